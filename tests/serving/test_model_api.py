"""The ModelAPI component under recording mocks: child inventory, stable names, validation before registration."""

from __future__ import annotations

import copy

import pulumi
import pulumi_kubernetes as k8s
import pytest

from modelstack.render import labels
from modelstack.serving.model_api import LB_PLACEHOLDER, ModelAPI, ModelAPIArgs

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666"
T_DEP = "kubernetes:apps/v1:Deployment"


def gpu_args(image: str = "ghcr.io/acme/llm:1", env: dict | None = None) -> ModelAPIArgs:
    return {
        "image": image, "env": env or {"MODEL": "llama"}, "compute": {"cpu": "3", "memory": "12Gi", "gpu": 1},
        "placement": {"node_pool": "gpu-a10g", "accelerator": "gpu", "spot": True, "on_demand_base": 1},
        "autoscaling": {"min_replicas": 2, "max_replicas": 10, "target_in_flight": 4},
        "ingress": {"group_name": "c1-models", "certificate_arn": CERT},
        "team": "nlp", "environment": "dev",
    }


def one(args: ModelAPIArgs, name: str = "llm", **kw):
    def program() -> None:
        m = ModelAPI(name, args, **kw)
        pulumi.export("endpoint", m.endpoint)
        pulumi.export("service_name", m.service_name)
        pulumi.export("namespace", m.namespace)
        pulumi.export("deployment_name", m.deployment_name)
        pulumi.export("autoscaler_kind", m.autoscaler_kind)
    return program


def test_child_inventory(run) -> None:
    r = run(one(gpu_args()))
    comp = r.named("llm", "modelstack:index:ModelAPI")
    assert sorted((c.type, c.name) for c in r.children(comp)) == sorted([
        ("kubernetes:core/v1:ServiceAccount", "llm-service-account"),
        ("kubernetes:core/v1:ConfigMap", "llm-proxy-config"),
        (T_DEP, "llm-deployment"),
        (T_DEP, "llm-on-demand"),
        ("kubernetes:core/v1:Service", "llm-service"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "llm-pdb"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "llm-network-policy"),
        ("kubernetes:http.keda.sh/v1beta1:InterceptorRoute", "llm-http-route"),
        ("kubernetes:keda.sh/v1alpha1:ScaledObject", "llm-scaled-object"),
        ("kubernetes:networking.k8s.io/v1:Ingress", "llm-ingress"),
    ])
    assert len(r.resources) == 11  # nothing outside the component


def test_outputs(run) -> None:
    r = run(one(gpu_args()))
    assert r.exports == {"endpoint": f"https://{LB_PLACEHOLDER}/llm", "service_name": "llm", "namespace": "models",
                         "deployment_name": "llm", "autoscaler_kind": "ScaledObject"}


def test_endpoint_from_the_ingress_status(run) -> None:
    def outputs(typ: str, name: str, inputs: dict) -> dict:
        if typ.endswith("Ingress"):
            return {"status": {"loadBalancer": {"ingress": [{"hostname": "k8s-c1models-abc.us-east-1.elb.amazonaws.com"}]}}}
        return {}
    r = run(one(gpu_args()), outputs=outputs)
    assert r.exports["endpoint"] == "https://k8s-c1models-abc.us-east-1.elb.amazonaws.com/llm"


def test_http_route_hosts_are_the_alb_name_and_extra_hosts_then_any_host(run) -> None:
    # Behind the ALB the route lists the ALB's DNS name and any custom domain exactly (so that two load balancer
    # groups with a model on the same path stay apart for those names), then the catch-all "*": the ALB forwards
    # every Host, and a client's own domain must reach the model too (issue 19).
    alb = "k8s-c1models-abc.us-east-1.elb.amazonaws.com"

    def outputs(typ: str, name: str, inputs: dict) -> dict:
        if typ.endswith("Ingress"):
            return {"status": {"loadBalancer": {"ingress": [{"hostname": alb}]}}}
        return {}
    args = gpu_args()
    args["ingress"] = {**args["ingress"], "hosts": ["llm.example.com", alb]}
    r = run(one(args), outputs=outputs)
    route = r.named("llm-http-route")
    assert route.inputs["spec"]["rules"] == [{"paths": [{"value": "/llm"}], "hosts": [alb, "llm.example.com", "*"]}]
    assert r.named("llm-ingress").urn in route.dependencies


def test_http_route_without_ingress_has_no_hosts(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1"}))
    assert "hosts" not in r.named("llm-http-route").inputs["spec"]["rules"][0]


def test_in_cluster_endpoint_without_ingress(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1", "port": 9000}))
    assert r.exports["endpoint"] == "http://llm.models.svc.cluster.local:9000"
    assert not r.of_type("kubernetes:networking.k8s.io/v1:Ingress")


def test_gpu_model_in_the_plan(run) -> None:
    r = run(one(gpu_args()))
    for name in ("llm-deployment", "llm-on-demand"):
        p = r.named(name, T_DEP).inputs["spec"]["template"]["spec"]
        res = p["containers"][0]["resources"]
        assert res["requests"]["nvidia.com/gpu"] == "1" and res["limits"]["nvidia.com/gpu"] == "1"
        assert labels.k8s_taint(labels.GPU_TAINT) in p["tolerations"]
    so = r.named("llm-scaled-object").inputs["spec"]
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (1, 9)  # less the on-demand floor of 1
    assert so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 60
    assert r.named("llm-http-route").inputs["spec"]["scalingMetric"] == {"concurrency": {"targetValue": 4}}
    assert r.named("llm-on-demand", T_DEP).inputs["spec"]["replicas"] == 1
    assert r.named("llm-deployment", T_DEP).inputs["spec"]["replicas"] == 1  # init (= min 2) less the floor


def test_in_flight_ingress_goes_through_the_interceptor(run) -> None:
    r = run(one(gpu_args()))
    ing = r.named("llm-ingress").inputs
    assert ing["metadata"]["namespace"] == "keda" and ing["metadata"]["name"] == "models-llm"
    path = ing["spec"]["rules"][0]["http"]["paths"][0]
    assert path == {"path": "/llm", "pathType": "Prefix", "backend": {"service": {
        "name": "keda-add-ons-http-interceptor-proxy", "port": {"number": 8080}}}}
    ann = ing["metadata"]["annotations"]
    assert ann == {
        "alb.ingress.kubernetes.io/group.name": "c1-models",
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/certificate-arn": CERT,
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
        # add-on >= 0.12.2 answers /readyz on its admin port only
        "alb.ingress.kubernetes.io/healthcheck-port": "9090",
        "alb.ingress.kubernetes.io/success-codes": "200",
        # the group default: longer than GPU node 420 s + pull 420 s + TCP readiness 5 s x 2 + proxy queue 60 s
        # + response 600 s = 1510 s
        "alb.ingress.kubernetes.io/load-balancer-attributes": "idle_timeout.timeout_seconds=1800",
        # its own target group keeps a stopping interceptor's connections for the route's longest request (1510 s)
        "alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=1510",
    }


def test_cpu_signal_ingress_goes_to_the_model(run) -> None:
    args = {"image": "ghcr.io/acme/m:1", "autoscaling": {"signal": "cpu", "target_utilization": 60},
            "readiness_probe": {"http_get": {"path": "/ready"}},
            "ingress": {"group_name": "c1-models", "scheme": "internet-facing", "inbound_cidrs": ["203.0.113.0/24"], "path": "/v1/m"}}
    r = run(one(args, name="m"))
    ing = r.named("m-ingress").inputs
    assert ing["metadata"]["namespace"] == "models"
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {"service": {"name": "m", "port": {"number": 8080}}}
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/inbound-cidrs"] == "203.0.113.0/24"
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/ready"
    assert not r.of_type("kubernetes:http.keda.sh/v1beta1:InterceptorRoute")
    assert r.named("m-scaled-object").inputs["spec"]["triggers"][0]["type"] == "cpu"
    assert r.exports["endpoint"] == f"http://{LB_PLACEHOLDER}/v1/m"


def test_scale_to_zero(run) -> None:
    args = {"image": "ghcr.io/acme/m:1", "autoscaling": {"min_replicas": 0, "max_replicas": 4, "scale_to_zero": True,
                                                         "downscale_stabilization_seconds": 120}}
    r = run(one(args, name="rare"))
    so = r.named("rare-scaled-object").inputs["spec"]
    assert (so["minReplicaCount"], so["maxReplicaCount"], so["cooldownPeriod"]) == (0, 4, 120)
    assert so["triggers"][0]["type"] == "external-push"
    assert r.named("rare-deployment", T_DEP).inputs["spec"]["replicas"] == 0
    # The route holds a request through a whole cold start: CPU node 180 s + pull 120 s + TCP readiness 10 s; then
    # waits the proxy's queue (60 s) plus the model's response (600 s) for headers.
    assert r.named("rare-http-route").inputs["spec"]["timeouts"] == {"readiness": "310s", "responseHeader": "660s"}
    assert "replicas" not in r.named("rare-http-route").inputs["spec"]  # min/max live on the ScaledObject


def _names(r) -> set[tuple[str, str, str]]:
    return {(x.type, x.name, (x.inputs.get("metadata") or {}).get("name", "")) for x in r.resources}


def test_image_or_env_change_keeps_every_name(run) -> None:
    a = run(one(gpu_args("ghcr.io/acme/llm:1", {"MODEL": "llama"})))
    b = run(one(gpu_args("ghcr.io/acme/llm:2", {"MODEL": "mistral"})))
    assert _names(a) == _names(b)
    assert a.named("llm-deployment", T_DEP).inputs["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/llm:1"
    assert b.named("llm-deployment", T_DEP).inputs["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/llm:2"
    for r in (a, b):
        assert all(x.options["replace_on_changes"] == [] for x in r.resources)
        # selectors are immutable: they must not depend on the image or env
        sel = r.named("llm-deployment", T_DEP).inputs["spec"]["selector"]
        assert sel == {"matchLabels": {labels.MODEL_LABEL: "llm", "app.kubernetes.io/instance": "llm"}}


def test_autoscaler_owns_replicas_after_creation(run) -> None:
    r = run(one(gpu_args()))
    assert r.named("llm-deployment", T_DEP).options["ignore_changes"] == ["spec.replicas"]
    assert r.named("llm-on-demand", T_DEP).options["ignore_changes"] == []


def test_every_child_is_parented_and_scaled_object_waits_for_its_targets(run) -> None:
    r = run(one(gpu_args()))
    comp = r.named("llm", "modelstack:index:ModelAPI")
    assert all(x.parent == comp.urn for x in r.resources if x is not comp)
    deps = r.named("llm-scaled-object").dependencies
    assert r.named("llm-deployment", T_DEP).urn in deps and r.named("llm-http-route").urn in deps


def test_own_provider_from_kubeconfig(run) -> None:
    args = dict(gpu_args(), kubeconfig='{"apiVersion": "v1"}')
    r = run(one(args))
    prov = r.named("llm-provider", "pulumi:providers:kubernetes")
    assert all(x.provider and x.provider.startswith(prov.urn) for x in r.resources if x.type.startswith("kubernetes:"))


def test_provider_from_opts(run) -> None:
    def program() -> None:
        p = k8s.Provider("cluster", kubeconfig="{}")
        ModelAPI("llm", {"image": "ghcr.io/acme/m:1"}, opts=pulumi.ResourceOptions(providers={"kubernetes": p}))
    r = run(program)
    prov = r.named("cluster", "pulumi:providers:kubernetes")
    assert all(x.provider.startswith(prov.urn) for x in r.resources if x.type.startswith("kubernetes:"))


def test_args_are_not_mutated(run) -> None:
    args = gpu_args()
    before = copy.deepcopy(args)
    run(one(args))
    assert args == before


def test_duplicate_path_is_rejected_before_registering(run) -> None:
    errors: list[str] = []

    def program() -> None:
        ModelAPI("a", {"image": "ghcr.io/acme/a:1", "ingress": {"group_name": "c1-models", "path": "/x"}})
        try:
            ModelAPI("b", {"image": "ghcr.io/acme/b:1", "ingress": {"group_name": "c1-models", "path": "/x"}})
        except ValueError as e:
            errors.append(str(e))
    r = run(program)
    assert errors == ["ModelAPI 'b': path '/x' on load balancer group 'c1-models' is already used by ModelAPI 'a'; "
                      "give one of them another path"]
    assert not [x for x in r.resources if x.name.startswith("b")]


def test_default_paths_do_not_collide_and_registry_resets_between_runs(run) -> None:
    def program() -> None:
        ModelAPI("a", {"image": "ghcr.io/acme/a:1", "ingress": {"group_name": "g"}})
        ModelAPI("b", {"image": "ghcr.io/acme/b:1", "ingress": {"group_name": "g"}})
    run(program)
    run(program)  # a second program run starts with an empty registry


def test_group_settings_must_agree(run) -> None:
    def program() -> None:
        ModelAPI("a", {"image": "ghcr.io/acme/a:1", "ingress": {"group_name": "g"}})
        ModelAPI("b", {"image": "ghcr.io/acme/b:1", "ingress": {"group_name": "g", "scheme": "internet-facing",
                                                                 "inbound_cidrs": ["0.0.0.0/0"]}})
    with pytest.raises(ValueError, match="settings .* differ from those of ModelAPI 'a'"):
        run(program)


@pytest.mark.parametrize("patch, message", [
    ({"namespace": "default"}, "namespace 'default' is not allowed"),
    ({"compute": {"gpu": 1, "inferentia": 1}}, "gpu (1) and inferentia (1) are mutually exclusive"),
    ({"update_strategy": {"max_surge": "0", "max_unavailable": "0"}}, "both 0"),
    ({"update_strategy": {"max_surge": "1.5"}}, "max_surge '1.5'"),
    ({"termination_grace_period_seconds": 10}, "must exceed the pre-stop sleep (15 s)"),
    ({"placement": {"on_demand_base": 1}}, "only applies to a spot pool"),
    ({"placement": {"spot": True, "on_demand_base": 1}, "autoscaling": {"min_replicas": 0, "scale_to_zero": True}},
     "the model would never reach zero"),
    ({"placement": {"accelerator": "tpu"}}, "placement.accelerator 'tpu'"),
    ({"autoscaling": {"signal": "gpu", "target_utilization": 80}}, "needs prometheus_address"),
    ({"ingress": {"group_name": "g", "scheme": "internet-facing"}}, "an internet-facing load balancer needs inbound_cidrs"),
    ({"ingress": {"group_name": "g", "path": "/x/"}}, "path '/x/'"),
    ({"readiness_probe": {"http_get": {}, "tcp_socket": {}}}, "readiness_probe: exactly one of"),
    ({"run_as_user": 0}, "non-root UID"),
    ({"sidecars": [{"name": "model", "image": "x:1"}]}, "may not be named 'model'"),
])
def test_invalid_args_raise_before_anything_registers(run, patch: dict, message: str) -> None:
    errors: list[str] = []

    def program() -> None:
        try:
            ModelAPI("m", {"image": "ghcr.io/acme/m:1", **patch})
        except ValueError as e:
            errors.append(str(e))
    r = run(program)
    assert len(errors) == 1 and errors[0].startswith("ModelAPI 'm': ") and message in errors[0]
    assert r.resources == []


def test_structural_args_must_be_known(run) -> None:
    def program() -> None:
        ModelAPI("m", {"image": "ghcr.io/acme/m:1", "namespace": pulumi.Output.from_input("models")})
    with pytest.raises(TypeError, match="namespace must be a known value"):
        run(program)


def test_image_may_be_an_output(run) -> None:
    def program() -> None:
        ModelAPI("m", {"image": pulumi.Output.from_input("ghcr.io/acme/m:7")})
    r = run(program)
    assert r.named("m-deployment", T_DEP).inputs["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/m:7"


def test_sidecars_and_concurrency_env(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1", "max_concurrency": 4, "sidecars": [
        {"name": "log-shipper", "image": "ghcr.io/acme/fb:1", "compute": {"cpu": "50m", "memory": "64Mi"}}]}))
    cs = r.named("llm-deployment", T_DEP).inputs["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["model", "proxy", "log-shipper"]
    assert {"name": "MODELSTACK_MAX_CONCURRENCY", "value": "4"} in cs[0]["env"]
    assert "ports" not in cs[2] and cs[2]["resources"]["limits"] == {"memory": "64Mi"}
    assert r.named("llm-http-route").inputs["spec"]["scalingMetric"]["concurrency"]["targetValue"] == 4


def test_args_satisfy_the_component_provider_analyzer() -> None:
    from pulumi.provider.experimental.analyzer import Analyzer

    from modelstack.serving.traffic_splitter import TrafficSplitter

    result = Analyzer("modelstack").analyze([ModelAPI, TrafficSplitter])
    comp = result["component_definitions"]["ModelAPI"]
    assert set(comp.outputs) == {"endpoint", "serviceName", "namespace", "deploymentName", "autoscalerKind", "roleArn"}
    assert "image" in comp.inputs and not comp.inputs["image"].optional
    assert {"autoscaling", "placement", "ingress", "updateStrategy", "readinessProbe", "preStop", "kubeconfig"} <= set(comp.inputs)
    assert set(result["component_definitions"]["TrafficSplitter"].outputs) == {"endpoint", "path"}


def test_proxy_fronts_the_server(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1", "port": 9000, "max_concurrency": 3, "max_queue_length": 7}))
    tpl = r.named("llm-deployment", T_DEP).inputs["spec"]["template"]
    proxy = next(c for c in tpl["spec"]["containers"] if c["name"] == "proxy")
    assert proxy["image"] == "public.ecr.aws/docker/library/haproxy:3.2.21-alpine"
    assert proxy["ports"][0] == {"name": "http", "containerPort": 8888, "protocol": "TCP"}
    assert proxy["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}
    assert tpl["spec"]["containers"][0]["ports"] == [{"name": "model", "containerPort": 9000, "protocol": "TCP"}]
    assert tpl["metadata"]["annotations"]["prometheus.io/port"] == "8404"
    cfg = r.named("llm-proxy-config").inputs["data"]["haproxy.cfg"]
    assert "server model 127.0.0.1:9000 maxconn 3" in cfg and "be_conn(model) ge 10" in cfg
    svc = r.named("llm-service").inputs["spec"]["ports"][0]
    assert (svc["port"], svc["targetPort"]) == (9000, "http")  # the HTTP add-on still routes to port 9000
    assert tpl["spec"]["automountServiceAccountToken"] is False


def test_aws_access_through_pod_identity(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1", "aws": {
        "cluster_name": "models-dev", "policy_arns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
        "statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::w/llm/*"]}]}}))
    comp = r.named("llm", "modelstack:index:ModelAPI")
    kinds = {(c.type, c.name) for c in r.children(comp)}
    assert {("aws:iam/role:Role", "llm-role"), ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-policy-0"),
            ("aws:iam/rolePolicy:RolePolicy", "llm-inline-policy"),
            ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "llm-pod-identity")} <= kinds
    assoc = r.named("llm-pod-identity").inputs
    assert (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == ("models-dev", "models", "llm")
    trust = __import__("json").loads(r.named("llm-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert r.named("llm-service-account").inputs["automountServiceAccountToken"] is True
    assert r.named("llm-deployment", T_DEP).inputs["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


@pytest.mark.parametrize("aws, message", [
    ({"cluster_name": "c"}, "ModelAPI 'llm': aws: give policy_arns and/or statements (a role with no permissions is not AWS access)"),
    ({"cluster_name": "c", "statements": [{"actions": ["s3:*"], "resources": ["*"]}]},
     "ModelAPI 'llm': aws.statements: wildcard actions s3:* need allow_wildcard_actions: true (name the actions the model uses instead)"),
    ({"cluster_name": "c", "mode": "irsa", "policy_arns": ["arn:aws:iam::aws:policy/X"]},
     "ModelAPI 'llm': aws.mode irsa needs aws.oidc_provider_arn and aws.oidc_provider_url"),
])
def test_bad_aws_access_is_refused(aws, message) -> None:
    from modelstack.serving.model_api import resolve
    with pytest.raises(ValueError) as e:
        resolve("llm", {"image": "ghcr.io/acme/m:1", "aws": aws})
    assert str(e.value) == message


def test_sidecar_probes_and_ports(run) -> None:
    r = run(one({"image": "ghcr.io/acme/m:1", "sidecars": [
        {"name": "tfs", "image": "ghcr.io/acme/tfs:2", "port": 8500,
         "readiness_probe": {"tcp_socket": {}}, "liveness_probe": {"http_get": {"path": "/v1/models/m"}}}]}))
    cs = r.named("llm-deployment", T_DEP).inputs["spec"]["template"]["spec"]["containers"]
    tfs = cs[2]
    assert tfs["ports"] == [{"containerPort": 8500, "protocol": "TCP"}]
    assert tfs["readinessProbe"]["tcpSocket"] == {"port": 8500}
    assert tfs["livenessProbe"]["httpGet"] == {"path": "/v1/models/m", "port": 8500}


@pytest.mark.parametrize("sidecar, message", [
    ({"name": "proxy", "image": "r.io/x:1"}, "ModelAPI 'llm': a sidecar may not be named 'proxy' (modelstack's own container)"),
    ({"name": "x", "image": "r.io/x:1", "port": 8888}, "ModelAPI 'llm': sidecar 'x' port 8888 is taken by the proxy"),
    ({"name": "x", "image": "r.io/x:1", "readiness_probe": {"tcp_socket": {}}},
     "ModelAPI 'llm': sidecars[0].readiness_probe: an http_get or tcp_socket probe needs a port (the sidecar has none)"),
])
def test_bad_sidecars_are_refused(sidecar, message) -> None:
    from modelstack.serving.model_api import resolve
    with pytest.raises(ValueError) as e:
        resolve("llm", {"image": "ghcr.io/acme/m:1", "sidecars": [sidecar]})
    assert str(e.value) == message


def test_alb_health_checks_skip_the_proxy_limits_only_when_the_alb_checks_pods(run) -> None:
    base = {"image": "ghcr.io/acme/m:1", "readiness_probe": {"http_get": {"path": "/ready"}},
            "ingress": {"group_name": "c1-models"}}
    cpu = run(one({**base, "autoscaling": {"signal": "cpu", "target_utilization": 70}}))
    assert "set-var(txn.lb_health_check) bool(true) if { path /ready }" in cpu.named("llm-proxy-config").inputs["data"]["haproxy.cfg"]
    in_flight = run(one(base))  # the ALB checks the interceptor, not the pods
    assert "lb_health_check" not in in_flight.named("llm-proxy-config").inputs["data"]["haproxy.cfg"]


def test_separately_built_models_and_splits_agree_on_the_idle_timeout(run) -> None:
    # Another team's stack adds a model and a split to one group without computing a group-wide value.
    from modelstack.serving.traffic_splitter import TrafficSplitter

    def prog():
        ModelAPI("a", {"image": "ghcr.io/acme/a:1", "ingress": {"group_name": "g"}})
        ModelAPI("b", {"image": "ghcr.io/acme/b:1", "compute": {"gpu": 1}, "ingress": {"group_name": "g"}})
        TrafficSplitter("s", {"backends": [{"service": "a", "weight": 100}], "ingress": {"group_name": "g"}})
    r = run(prog)
    values = {i.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-attributes"]
              for i in r.of_type("kubernetes:networking.k8s.io/v1:Ingress")}
    assert values == {"idle_timeout.timeout_seconds=1800"}


def test_a_model_slower_than_the_group_default_must_be_given_the_group_value(run) -> None:
    slow = {"image": "ghcr.io/acme/s:1", "ingress": {"group_name": "g"}, "response_timeout_seconds": 3000}
    with pytest.raises(ValueError, match="load balancer group 'g' settings .* differ"):
        run(lambda: (ModelAPI("a", {"image": "ghcr.io/acme/a:1", "ingress": {"group_name": "g"}}), ModelAPI("s", slow)))


def test_health_checks_ride_on_the_service_so_traffic_splits_pass_the_proxy_too(run) -> None:
    # A cpu-signal model may be a TrafficSplitter backend even without its own Ingress: its Service carries the
    # target-group health check, and its proxy lets exactly that path through the limits.
    args = {"image": "ghcr.io/acme/m:1", "autoscaling": {"signal": "cpu", "target_utilization": 60},
            "readiness_probe": {"http_get": {"path": "/ready"}}}
    r = run(one(args, name="m"))
    ann = r.named("m-service").inputs["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/healthcheck-path"] == "/ready"
    cfg = r.named("m-proxy-config").inputs["data"]["haproxy.cfg"]
    assert "if { path /ready }" in cfg
    # Behind the KEDA interceptor the ALB checks the interceptor, not the pods: no check on the Service.
    r = run(one({"image": "ghcr.io/acme/m:1"}, name="n"))
    assert "annotations" not in r.named("n-service").inputs["metadata"]


def test_signal_llm_needs_the_engine_metrics_and_renders_init_containers_and_the_cache():
    from modelstack.serving import model_api as m
    base = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm/vllm-openai:v0.33.0",
            "autoscaling": {"signal": "llm", "target_in_flight": 16}, "prometheus_address": "http://prom:80"}
    with pytest.raises(ValueError, match="engine_metrics"):
        m.resolve("chat", base)
    plan = m.resolve("chat", {**base, "engine_metrics": True,
                              "cache_volume": {"mount_path": "/models", "size_limit": "20Gi"},
                              "init_containers": [{"name": "weights", "image": "public.ecr.aws/aws-cli/aws-cli:2.27.0",
                                                   "command": ["aws", "s3", "sync", "s3://b/p", "/models/chat"]}]})
    pod = plan.objects["deployment"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["weights"]
    assert {"name": "cache", "mountPath": "/models"} in pod["initContainers"][0]["volumeMounts"]
    assert {"name": "cache", "mountPath": "/models"} in pod["containers"][0]["volumeMounts"]
    assert {"name": "cache", "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]
    assert plan.objects["service"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    rules = plan.objects["network_policy"]["spec"]["ingress"]
    assert any(r["ports"] == [{"protocol": "TCP", "port": 8080}] and r.get("from") for r in rules[1:])
    assert "interceptor_route" in plan.objects  # behind the interceptor, as in_flight
    with pytest.raises(ValueError, match="cache_volume"):
        m.resolve("chat", {**base, "engine_metrics": True, "cache_volume": {"mount_path": "/models"}})
