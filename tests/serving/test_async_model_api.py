"""AsyncModelAPI and BatchModelAPI under recording mocks: children, names, least privilege, the queue trigger."""

from __future__ import annotations

import json

import pytest
import yaml

from modelstack.render import queue as q
from modelstack.serving.async_model_api import AsyncModelAPI
from modelstack.serving.batch_model_api import BatchModelAPI


def args(**kw) -> dict:
    return {"image": "ghcr.io/acme/summarize:1.0", "cluster_name": "c1", "region": "us-east-1",
            "ingress": {"group_name": "c1-models"}, "team": "nlp", "environment": "dev",
            "tags": {"team": "nlp", "environment": "dev"}, **kw}


def build(cls, name: str, a: dict):
    def program() -> None:
        cls(name, a)
    return program


def by_name(r, typ: str, name: str):
    return r.named(name, typ)


def test_async_children_and_names(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args()))
    comp = r.named("summarize", "modelstack:index:AsyncModelAPI")
    assert sorted((c.type, c.name) for c in r.children(comp)) == sorted([
        ("modelstack:index:ModelQueue", "summarize-queue"),
        ("kubernetes:keda.sh/v1alpha1:TriggerAuthentication", "summarize-trigger-auth"),
        ("modelstack:index:ModelAPI", "summarize-workers"),
        ("modelstack:index:ModelAPI", "summarize-gateway"),
    ])
    mq = r.named("summarize-queue", "modelstack:index:ModelQueue")
    assert sorted(c.name for c in r.children(mq)) == sorted(
        f"summarize-queue-{s}" for s in ("dlq", "queue", "bucket", "bucket-encryption", "bucket-public-access",
                                         "bucket-lifecycle", "bucket-tls-only", "workers-policy", "gateway-policy"))
    # Every resource of the tree is named from the component's name.
    assert all(x.name.startswith("summarize") for x in r.resources if x.type != "pulumi:pulumi:Stack")


def test_queue_encrypted_redriven_and_bucket_closed(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args(queue={"max_receives": 5, "result_expiry_days": 2})))
    queue = r.named("summarize-queue-queue", "aws:sqs/queue:Queue")
    dlq = r.named("summarize-queue-dlq", "aws:sqs/queue:Queue")
    assert queue.inputs["sqsManagedSseEnabled"] and dlq.inputs["sqsManagedSseEnabled"]
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}
    pab = r.named("summarize-queue-bucket-public-access", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(pab.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                       "restrictPublicBuckets"))
    life = r.named("summarize-queue-bucket-lifecycle", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert life.inputs["rules"][0]["expiration"]["days"] == 2
    assert life.inputs["rules"][0]["filter"]["prefix"] == "requests/"


def test_policies_name_only_this_queue_and_prefix(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args()))
    queue_arn = r.named("summarize-queue-queue", "aws:sqs/queue:Queue").outputs["arn"]
    bucket_arn = r.named("summarize-queue-bucket", "aws:s3/bucket:Bucket").outputs["arn"]
    for role, actions in (("workers", {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                       "s3:GetObject", "s3:PutObject"}),
                          ("gateway", {"sqs:SendMessage", "s3:GetObject", "s3:PutObject"})):
        doc = json.loads(r.named(f"summarize-queue-{role}-policy", "aws:iam/policy:Policy").inputs["policy"])
        got = {a for st in doc["Statement"] for a in st["Action"]}
        assert got == actions
        resources = {x for st in doc["Statement"] for x in st["Resource"]}
        assert resources == {queue_arn, f"{bucket_arn}/requests/*"}
        assert not any("*" in a for a in got)
    # Each ModelAPI's role gets its own policy and a Pod Identity association.
    for api in ("workers", "gateway"):
        att = r.named(f"summarize-{api}-policy-0", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert att.inputs["policyArn"].endswith(f"summarize-queue-{api}-policy")
        pia = r.named(f"summarize-{api}-pod-identity", "aws:eks/podIdentityAssociation:PodIdentityAssociation")
        assert pia.inputs["clusterName"] == "c1"


def test_workers_scale_on_queue_depth_from_zero(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args()))
    so = r.named("summarize-workers-scaled-object", "kubernetes:keda.sh/v1alpha1:ScaledObject")
    spec = so.inputs["spec"]
    assert spec["minReplicaCount"] == 0 and spec["scaleTargetRef"]["name"] == "summarize"
    (trig,) = spec["triggers"]
    assert trig["type"] == "aws-sqs-queue" and trig["authenticationRef"] == {"name": "summarize-queue"}
    queue_url = r.named("summarize-queue-queue", "aws:sqs/queue:Queue").outputs.get("url")
    assert trig["metadata"]["queueURL"] == queue_url
    assert trig["metadata"]["queueLength"] == "1" and trig["metadata"]["awsRegion"] == "us-east-1"
    ta = r.named("summarize-trigger-auth", "kubernetes:keda.sh/v1alpha1:TriggerAuthentication")
    assert ta.inputs["spec"] == {"podIdentity": {"provider": "aws"}}
    assert ta.inputs["metadata"]["name"] == "summarize-queue"


def test_workers_run_the_model_and_the_consumer(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args(port=9000, queue={"max_receives": 4})))
    dep = r.named("summarize-workers-deployment", "kubernetes:apps/v1:Deployment")
    containers = {c["name"]: c for c in dep.inputs["spec"]["template"]["spec"]["containers"]}
    assert containers["model"]["image"] == "ghcr.io/acme/summarize:1.0"
    consumer = containers[q.CONSUMER_CONTAINER]
    assert consumer["image"] == q.IMAGE
    env = {e["name"]: e["value"] for e in consumer["env"]}
    config = yaml.safe_load(env[q.CONFIG_ENV])
    assert config["pipeline"]["processors"][3]["http"]["url"] == "http://127.0.0.1:9000/"
    assert "@receives >= 4" in json.dumps(config)
    assert "ingress" not in {x.name.rsplit("-", 1)[-1] for x in r.resources if x.name.startswith("summarize-workers")}


def test_gateway_has_the_route(run) -> None:
    r = run(build(AsyncModelAPI, "summarize", args()))
    ing = r.named("summarize-gateway-ingress", "kubernetes:networking.k8s.io/v1:Ingress")
    assert ing.inputs["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/summarize"
    dep = r.named("summarize-gateway-deployment", "kubernetes:apps/v1:Deployment")
    gw = dep.inputs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in gw["env"]}
    assert "http_server" in yaml.safe_load(env[q.CONFIG_ENV])["input"]


def test_batch_has_no_gateway_and_uses_jobs_prefix(run) -> None:
    a = args()
    del a["ingress"]
    r = run(build(BatchModelAPI, "scoring", a))
    comp = r.named("scoring", "modelstack:index:BatchModelAPI")
    assert sorted(c.name for c in r.children(comp)) == ["scoring-queue", "scoring-trigger-auth", "scoring-workers"]
    doc = json.loads(r.named("scoring-queue-workers-policy", "aws:iam/policy:Policy").inputs["policy"])
    assert any(x.endswith("/jobs/*") for st in doc["Statement"] for x in st["Resource"])


@pytest.mark.parametrize("cls,bad,match", [
    (AsyncModelAPI, {"cluster_name": None}, "cluster_name is required"),
    (AsyncModelAPI, {"queue": {"max_receives": 0}}, "max_receives 0"),
    (AsyncModelAPI, {"autoscaling": {"signal": "cpu"}}, "scale on the queue"),
    (BatchModelAPI, {}, "ingress"),
])
def test_bad_args_fail_before_registering(run, cls, bad, match) -> None:
    with pytest.raises(Exception, match=match):
        run(build(cls, "x", args(**bad)))


def test_model_api_queue_signal_and_queue_scaling_go_together() -> None:
    from modelstack.serving.model_api import resolve
    base = {"image": "ghcr.io/acme/m:1"}
    with pytest.raises(ValueError, match="go together"):
        resolve("m", {**base, "autoscaling": {"signal": "queue", "min_replicas": 0, "scale_to_zero": True}})
    with pytest.raises(ValueError, match="go together"):
        resolve("m", {**base, "queue_scaling": {"queue_url": "u", "region": "us-east-1", "authentication": "a"}})
    plan = resolve("m", {**base, "autoscaling": {"signal": "queue", "min_replicas": 0, "scale_to_zero": True},
                         "queue_scaling": {"queue_url": "u", "region": "us-east-1", "authentication": "a",
                                           "queue_length": 3}})
    (trig,) = plan.objects["scaled_object"]["spec"]["triggers"]
    assert trig["metadata"]["queueLength"] == "3" and "interceptor_route" not in plan.objects


def test_model_api_queue_endpoint_is_checked_and_rendered() -> None:
    from modelstack.serving.model_api import resolve
    base = {"image": "ghcr.io/acme/m:1", "autoscaling": {"signal": "queue", "min_replicas": 0, "scale_to_zero": True}}
    q = {"queue_url": "u", "region": "us-east-1", "authentication": "a"}
    with pytest.raises(ValueError, match=r"queue_scaling.endpoint 'sqs.local': an http\(s\) URL"):
        resolve("m", {**base, "queue_scaling": {**q, "endpoint": "sqs.local"}})
    plan = resolve("m", {**base, "queue_scaling": {**q, "endpoint": "http://10.0.0.2:4566"}})
    (trig,) = plan.objects["scaled_object"]["spec"]["triggers"]
    assert trig["metadata"]["awsEndpoint"] == "http://10.0.0.2:4566"
