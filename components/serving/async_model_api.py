"""AsyncModelAPI: Cortex's AsyncAPI as one Pulumi component: requests are stored and queued at once, answered with
an id, processed by workers that scale on the queue's depth (from zero), and their results read back by id."""

import sys
from typing import Any, Optional, TypedDict, cast

import pulumi

from modelstack.render import queue as q
from modelstack.serving import queue_workers
from modelstack.serving.model_api import IngressArgs, ModelAPI, ModelAPIArgs, PlacementArgs
from modelstack.serving.queue_workers import QueueWorkersArgs

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

TYPE_TOKEN = "modelstack:index:AsyncModelAPI"


class GatewayArgs(TypedDict):
    """The `<model>-gateway` Deployment (Redpanda Connect's http_server): POST and GET by id."""

    image: NotRequired[pulumi.Input[str]]
    """Default public.ecr.aws/l9j0i2e0/connect:4.105.0."""
    cpu: NotRequired[str]
    """Default "100m"."""
    memory: NotRequired[str]
    """Default "128Mi"."""
    min_replicas: NotRequired[int]
    """Default 2 (it answers every POST: no scale to zero)."""
    max_replicas: NotRequired[int]
    """Default 10 (CPU-based, 70 % of the request)."""
    placement: NotRequired[Optional[PlacementArgs]]
    """Default: any node (the stack program puts it on the system pool)."""


class AsyncModelAPIArgs(QueueWorkersArgs):
    """A ModelAPI's args for the workers, the queue's, and the gateway's; `ingress` is the gateway's route."""

    gateway: NotRequired[Optional[GatewayArgs]]
    """Default: see GatewayArgs."""


class AsyncModelAPI(pulumi.ComponentResource):
    """`POST <path>` (any body) answers 202 `{"id", "key", "status": "in_queue"}` at once: the gateway stores the body
    as `requests/<id>/payload` in the API's bucket and queues the id. `GET <path>/<id>` answers `{"id", "status"}`
    (in_queue, in_progress, completed, failed) and, once completed, `"result"` (the model's response, parsed when it
    is JSON); 404 for an unknown or expired id. A worker pod runs the user's model server with the same HTTP
    contract as a realtime model (the payload is POSTed to `queue.model_path`, default "/") and the queue consumer,
    one request at a time, its visibility timeout kept alive while the request runs; a failed request is retried
    up to `queue.max_receives` receives (default 3), then marked failed and dead-lettered.

    Children: `<name>-queue` (ModelQueue), `<name>-trigger-auth` (KEDA TriggerAuthentication), `<name>-workers`
    (ModelAPI of the model server, signal queue, from zero by default), `<name>-gateway` (ModelAPI of the gateway,
    CPU-scaled, 2-10 replicas, with the `ingress` route, default path "/<name>"). Results expire
    `queue.result_expiry_days` (default 7) after they were written.
    """

    endpoint: pulumi.Output[str]
    """The gateway's URL (POST here; GET <endpoint>/<id>)."""
    queue_url: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    bucket: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    """The workers' Deployment."""
    role_arn: pulumi.Output[Optional[str]]
    """The workers' IAM role."""

    def __init__(self, name: str, args: AsyncModelAPIArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        a = args.copy()  # a snapshot: the Outputs below read it when they resolve
        queue_workers.check("AsyncModelAPI", name, a)
        gw: GatewayArgs = a.get("gateway") or {}
        lo, hi = int(gw.get("min_replicas", 2)), int(gw.get("max_replicas", 10))
        if not 1 <= lo <= hi:
            raise ValueError(f"AsyncModelAPI {name!r}: gateway min_replicas {lo} / max_replicas {hi}: 1 <= min <= max")
        super().__init__(TYPE_TOKEN, name, None, opts)
        w = queue_workers.register(self, name, a, "async")
        model = str(a.get("model_name") or name)
        config = pulumi.Output.all(w.queue.queue_url, w.queue.bucket).apply(lambda v: q.to_yaml(q.gateway_config(
            queue_url=v[0], bucket=v[1], aws=q.Endpoints(a["region"]))))
        gateway = ModelAPI(f"{name}-gateway", gateway_args(model, a, gw, config, w.queue.gateway_policy_arn),
                           pulumi.ResourceOptions(parent=self))
        self.endpoint = gateway.endpoint
        self.queue_url, self.dlq_url, self.bucket = w.queue.queue_url, w.queue.dlq_url, w.queue.bucket
        self.deployment_name, self.role_arn = w.api.deployment_name, w.api.role_arn
        self.register_outputs({"endpoint": self.endpoint, "queue_url": self.queue_url, "dlq_url": self.dlq_url,
                               "bucket": self.bucket, "deployment_name": self.deployment_name,
                               "role_arn": self.role_arn})


def gateway_args(model: str, a: AsyncModelAPIArgs, gw: GatewayArgs, config: Any, policy_arn: Any) -> ModelAPIArgs:
    """The gateway as a ModelAPI: the proxy, PDB, NetworkPolicy, route and role of any model, around Redpanda
    Connect; the ALB checks /healthz on it."""
    ing: Optional[IngressArgs] = a.get("ingress")
    keep = ("namespace", "team", "environment", "http_add_on", "prometheus_address", "network_policy_cidrs",
            "kubeconfig")
    out: dict[str, Any] = {
        **{k: v for k in keep if (v := a.get(k)) is not None},
        "model_name": f"{model}-gateway", "image": gw.get("image") or q.IMAGE, "command": q.wrapper_command(),
        "env": {q.CONFIG_ENV: config}, "port": q.GATEWAY_PORT, "run_as_user": q.USER_ID,
        "compute": {"cpu": gw.get("cpu") or "100m", "memory": gw.get("memory") or "128Mi"},
        "max_concurrency": 64, "max_queue_length": 256, "response_timeout_seconds": 30,
        "readiness_probe": {"http_get": {"path": q.HEALTH_PATH}, "period_seconds": 5},
        "liveness_probe": {"http_get": {"path": "/ping", "port": q.HTTP_PORT}, "period_seconds": 10},
        "autoscaling": {"min_replicas": int(gw.get("min_replicas", 2)), "max_replicas": int(gw.get("max_replicas", 10)),
                        "signal": "cpu", "target_utilization": 70},
        "placement": gw.get("placement"),
        "ingress": {**dict(ing), "path": ing.get("path") or f"/{model}"} if ing else None,
        "aws": {"cluster_name": a["cluster_name"], "policy_arns": [policy_arn], "tags": dict(a.get("tags") or {})},
    }
    return cast(ModelAPIArgs, out)  # ModelAPIArgs' keys: the user's copied by name, the rest as written here
