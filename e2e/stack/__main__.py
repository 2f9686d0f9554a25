"""e2e stack: every prod model and traffic split, through ClusterHandle.existing, on the run's API server.

What is real here: the Pulumi engine, the Kubernetes provider, the API server and controllers. What is not: AWS and
EKS. The cluster is not built by our Cluster component (no EKS API here), so the handle's AWS facts (OIDC provider,
node role, VPC, subnets) are dummy strings that nothing below reads; node groups, cluster-autoscaler and the add-on
charts (KEDA, ALB controller, ...) are not deployed by it (their CRDs are installed by the driver; the driver runs
the real KEDA and HTTP add-on itself, on its real node, e2e/scaling.py). The driver's kwok nodes stand in for the node
groups, labelled and tainted as ours would be.
"""

import json
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apiextensions import CustomResource

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import prodlike  # noqa: E402
from modelstack import ClusterHandle, ModelAPI, TrafficSplitter  # noqa: E402
from modelstack.program import ingress_args, model_args, with_group_idle_timeout  # noqa: E402
from modelstack.render import labels  # noqa: E402
from modelstack.cluster.addons import PROMETHEUS_ADDRESS  # noqa: E402
from modelstack.ops.outputs import models_output, observability_output  # noqa: E402

DUMMY_ACCOUNT = "arn:aws:iam::000000000000"

config = pulumi.Config()
kubeconfig = config.require_secret("kubeconfig")
images: dict = config.get_object("images") or {}

platform, capacity = prodlike.load()
c = platform.config


def skip_ingress_await(args: pulumi.ResourceTransformationArgs):
    """No AWS Load Balancer Controller runs here, so no Ingress ever gets a load balancer address; the provider
    would wait 10 minutes for one. Only Ingresses skip the await; every other object is awaited as usual. A
    transformation on the components (their children inherit it), so the offline plan of this program
    (`modelstack plan --program e2e/stack`, which has no engine to hold a stack-wide transform) runs it too."""
    if args.type_ != "kubernetes:networking.k8s.io/v1:Ingress":
        return None
    props = dict(args.props)
    md = dict(props.get("metadata") or {})
    md["annotations"] = {**(md.get("annotations") or {}), "pulumi.com/skipAwait": "true"}
    props["metadata"] = md
    return pulumi.ResourceTransformationResult(props=props, opts=args.opts)


SKIP_INGRESS_AWAIT = pulumi.ResourceOptions(transformations=[skip_ingress_await])
# A model moved to another namespace (`namespaces.<model>`): the replace-forcing change `make e2e` previews for
# real and offline, to hold the offline diff to the engine's.
moved: dict = config.get_object("namespaces") or {}

handle = ClusterHandle.existing(
    "e2e-cluster",
    cluster_name=c.cluster.name,
    kubernetes_version=c.cluster.kubernetes_version,
    kubeconfig=kubeconfig,
    oidc_provider_arn=f"{DUMMY_ACCOUNT}:oidc-provider/oidc.e2e.invalid",
    oidc_provider_url="https://oidc.e2e.invalid",
    node_role_arn=f"{DUMMY_ACCOUNT}:role/e2e-node",
    node_role_name="e2e-node",
    vpc_id="vpc-e2e",
    private_subnet_ids=["subnet-e2e-a", "subnet-e2e-b", "subnet-e2e-c"],
)

# The model namespaces, as the platform program creates them: PodSecurity `restricted` enforced.
namespace_of = {name: moved.get(name, m.namespace) for name, m in c.models.items()}
namespaces = {
    ns: k8s.core.v1.Namespace(f"ns-{ns}", metadata={"name": ns, "labels": {
        labels.TEAM_LABEL: c.team, labels.ENVIRONMENT_LABEL: c.environment, **labels.MANAGED_BY,
        "pod-security.kubernetes.io/enforce": "restricted"}}, opts=pulumi.ResourceOptions(provider=handle.provider))
    for ns in sorted(set(namespace_of.values()))
}

# As program.build: every model's args, with the shared ALB's idle timeout agreed across the group.
all_args = with_group_idle_timeout({name: model_args(platform, name, m, capacity) for name, m in c.models.items()})
idle = next((a["ingress"]["idle_timeout_seconds"] for a in all_args.values()), None)
models = {}
for name, m in c.models.items():
    args = {**all_args[name], "image": images.get(name, all_args[name]["image"]), "namespace": namespace_of[name]}
    models[name] = ModelAPI(name, args, handle.options(pulumi.ResourceOptions.merge(
        SKIP_INGRESS_AWAIT, pulumi.ResourceOptions(depends_on=[namespaces[namespace_of[name]]]))))

# The serving scenarios' models (`serving`: JSON set by the driver, e2e/serving.py): each is a prod model's args
# (`base`) with our stand-in server's image and env, small compute, and placement on the real node (its pool and
# taint) instead of the kwok node groups; `overrides` replace top-level args (limits, replicas).
serving: dict = json.loads(config.get("serving") or "{}")
# The queue-driven scenario's TriggerAuthentication (`queue_auth`: JSON set by the driver, e2e/scaling.py): KEDA reads
# the run's SQS (moto) with the static test keys of a Secret, where AsyncModelAPI renders Pod Identity (AWS only).
queue_auth: dict = json.loads(config.get("queue_auth") or "{}")
auths = {}
if queue_auth:
    q_ns = namespaces[queue_auth["namespace"]]
    q_md = {"name": queue_auth["name"], "namespace": queue_auth["namespace"]}
    q_secret = k8s.core.v1.Secret("queue-auth", metadata=q_md, string_data={
        "key-id": queue_auth["key_id"], "secret-key": queue_auth["secret_key"]},
        opts=pulumi.ResourceOptions(provider=handle.provider, depends_on=[q_ns]))
    auths[queue_auth["name"]] = CustomResource(
        "queue-auth", api_version="keda.sh/v1alpha1", kind="TriggerAuthentication", metadata=q_md,
        spec={"secretTargetRef": [
            {"parameter": "awsAccessKeyID", "name": queue_auth["name"], "key": "key-id"},
            {"parameter": "awsSecretAccessKey", "name": queue_auth["name"], "key": "secret-key"}]},
        opts=pulumi.ResourceOptions(provider=handle.provider, depends_on=[q_secret]))
serving_models = {}
for name, sv in serving.items():
    base = all_args[sv["base"]]
    placement = {k: v for k, v in base["placement"].items() if k != "instance_types"}
    placement.update(sv["placement"])
    args = {**base, "model_name": name, "image": sv["image"], "env": sv.get("env", {}), "compute": sv["compute"],
            "placement": placement, "namespace": sv.get("namespace", base["namespace"]),
            "ingress": {**base["ingress"], "path": f"/{name}"}}
    for k, v in (sv.get("overrides") or {}).items():
        args[k] = {**args[k], **v} if isinstance(v, dict) and isinstance(args.get(k), dict) else v
    auth = auths.get((args.get("queue_scaling") or {}).get("authentication", ""))
    serving_models[name] = ModelAPI(name, args, handle.options(pulumi.ResourceOptions.merge(
        SKIP_INGRESS_AWAIT, pulumi.ResourceOptions(depends_on=[namespaces[args["namespace"]], *([auth] if auth else [])]))))

for name, s in c.traffic_splits.items():
    namespace = namespace_of[next(iter(s.backends))]
    TrafficSplitter(name, {
        "backends": [{"service": b, "port": c.models[b].port, "weight": w} for b, w in s.backends.items()],
        "ingress": {**ingress_args(c.cluster, s.path or f"/{name}"), "idle_timeout_seconds": idle},
        "namespace": namespace, "team": c.team, "environment": c.environment,
    }, handle.options(pulumi.ResourceOptions.merge(SKIP_INGRESS_AWAIT,
                                                    pulumi.ResourceOptions(depends_on=list(models.values())))))

# What `modelstack get` / `logs` read, as program.build exports it (no Prometheus runs here: get must say so).
pulumi.export("models", models_output(models))
pulumi.export("region", platform.region)
pulumi.export("observability", observability_output(PROMETHEUS_ADDRESS, None))
