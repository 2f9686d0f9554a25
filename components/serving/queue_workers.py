"""What AsyncModelAPI and BatchModelAPI share: the args of their queue and their workers, and the registration of
the ModelQueue, KEDA's TriggerAuthentication and the workers' ModelAPI under the calling component.

The workers are a ModelAPI of the user's model server (same pod shape, placement, probes, PDB and rollout as a
realtime model) with the queue consumer as a sidecar and KEDA's aws-sqs-queue trigger instead of in-flight requests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Mapping, Optional, TypedDict

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

from modelstack.render import queue as q
from modelstack.serving.model_api import AutoscalingArgs, ModelAPI, ModelAPIArgs
from modelstack.serving.model_queue import ModelQueue

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired


class QueueArgs(TypedDict):
    """The queue, its DLQ and the bucket."""

    max_receives: NotRequired[int]
    """Receives (one per attempt) before a message goes to the dead-letter queue. Default 3."""
    result_expiry_days: NotRequired[int]
    """Payloads, statuses and results expire this many days after they were written. Default 7."""
    message_timeout_seconds: NotRequired[int]
    """Visibility timeout; the consumer refreshes it at half while a request runs. Default 60."""
    queue_length: NotRequired[int]
    """Messages per worker replica KEDA aims at (its `queueLength`). Default 1 (a worker takes one at a time)."""
    model_path: NotRequired[str]
    """Path on the model server the consumer POSTs each payload to. Default "/"."""


class ConsumerArgs(TypedDict):
    """The `queue-consumer` sidecar (Redpanda Connect)."""

    image: NotRequired[pulumi.Input[str]]
    """Default public.ecr.aws/l9j0i2e0/connect:4.105.0 (Redpanda Connect's release image on ECR Public)."""
    cpu: NotRequired[str]
    """Default "100m"."""
    memory: NotRequired[str]
    """Default "128Mi"."""


class QueueWorkersArgs(ModelAPIArgs):
    """A ModelAPI's args (the workers: the user's model server) plus where the queue lives."""

    cluster_name: pulumi.Input[str]
    """EKS cluster: the Pod Identity associations of the workers (and the gateway). Required."""
    region: str
    """AWS region of the queue and bucket (the consumer's and KEDA's clients). Required."""
    queue: NotRequired[Optional[QueueArgs]]
    """Default: see QueueArgs."""
    consumer: NotRequired[Optional[ConsumerArgs]]
    """Default: see ConsumerArgs."""
    keda_role_arn: NotRequired[Optional[pulumi.Input[str]]]
    """KEDA operator's IAM role; given, KEDA reads the depth through a scaler role of this API only. Default none:
    with its own identity."""
    tags: NotRequired[dict[str, str]]
    """Tags on the AWS resources (and the workers' role). Default none."""


#: Keys of QueueWorkersArgs that are not ModelAPI's.
OWN_KEYS = ("cluster_name", "region", "queue", "consumer", "keda_role_arn", "tags", "gateway")


@dataclass
class Workers:
    queue: ModelQueue
    api: ModelAPI
    authentication: CustomResource


def _autoscaling(a: Optional[AutoscalingArgs]) -> dict[str, Any]:
    """The user's autoscaling knobs with signal queue; from zero unless min_replicas says otherwise."""
    out = dict(a or {})
    if out.get("signal") not in (None, "queue"):
        raise ValueError(f"autoscaling.signal {out['signal']!r}: the workers scale on the queue's depth")
    out["signal"] = "queue"
    out.setdefault("min_replicas", 0)
    out.setdefault("scale_to_zero", out["min_replicas"] == 0)
    return out


def consumer_container(*, name: str, args: QueueWorkersArgs, queue_url: Any, bucket: Any) -> dict[str, Any]:
    """The sidecar: the rendered consumer config in its variable, written to /tmp and run by the wrapper."""
    qa: QueueArgs = args.get("queue") or {}
    c: ConsumerArgs = args.get("consumer") or {}
    port = args.get("port") or 8080
    if not isinstance(port, int):  # rendered into the consumer's model URL below
        raise TypeError(f"port must be a known integer, not {type(port).__name__}")
    path = str(qa.get("model_path") or "/")
    if not path.startswith("/"):
        raise ValueError(f"queue.model_path {path!r}: a path starting with '/'")
    config = pulumi.Output.all(queue_url, bucket).apply(lambda v: q.to_yaml(q.consumer_config(
        queue_url=v[0], bucket=v[1], aws=q.Endpoints(args["region"]), model_url=f"http://127.0.0.1:{port}{path}",
        max_receives=int(qa.get("max_receives", q.MAX_RECEIVES)),
        request_timeout_seconds=int(args.get("response_timeout_seconds") or 600),
        message_timeout_seconds=int(qa.get("message_timeout_seconds", q.MESSAGE_TIMEOUT_SECONDS)))))
    return {"name": q.CONSUMER_CONTAINER, "image": c.get("image") or q.IMAGE, "command": q.wrapper_command(),
            "env": {q.CONFIG_ENV: config}, "port": q.HTTP_PORT,
            "compute": {"cpu": c.get("cpu") or q.CONSUMER_CPU, "memory": c.get("memory") or q.CONSUMER_MEMORY},
            "readiness_probe": {"http_get": {"path": "/ready", "port": q.HTTP_PORT}, "period_seconds": 10},
            "liveness_probe": {"http_get": {"path": "/ping", "port": q.HTTP_PORT}, "period_seconds": 10}}


def worker_args(name: str, args: QueueWorkersArgs, queue: ModelQueue, auth_name: str) -> ModelAPIArgs:
    """The workers' ModelAPI args: the user's, minus the route, plus the consumer, the queue trigger and the role."""
    out: dict[str, Any] = {k: v for k, v in args.items() if k not in OWN_KEYS and k != "ingress"}
    out.setdefault("model_name", name)
    out["sidecars"] = [*(args.get("sidecars") or []),
                       consumer_container(name=name, args=args, queue_url=queue.queue_url, bucket=queue.bucket)]
    out["autoscaling"] = _autoscaling(args.get("autoscaling"))
    qa: QueueArgs = args.get("queue") or {}
    out["queue_scaling"] = {"queue_url": queue.queue_url, "region": args["region"], "authentication": auth_name,
                            "queue_length": int(qa.get("queue_length", 1))}
    user: Mapping[str, Any] = args.get("aws") or {}  # AwsArgs, its required keys set below
    out["aws"] = {**user, "cluster_name": args["cluster_name"],
                  "policy_arns": [*(user.get("policy_arns") or []), queue.worker_policy_arn],
                  "tags": {**dict(args.get("tags") or {}), **dict(user.get("tags") or {})}}
    return out  # type: ignore[return-value]


def check(kind: str, name: str, args: QueueWorkersArgs) -> None:
    """What must hold before anything registers."""
    for k in ("cluster_name", "region", "image"):
        if args.get(k) is None:
            raise ValueError(f"{kind} {name!r}: {k} is required")
    _autoscaling(args.get("autoscaling"))
    qa: QueueArgs = args.get("queue") or {}
    q.redrive_policy("arn", int(qa.get("max_receives", q.MAX_RECEIVES)))
    if int(qa.get("queue_length", 1)) < 1:
        raise ValueError(f"{kind} {name!r}: queue.queue_length {qa['queue_length']}: at least 1")


def register(parent: pulumi.Resource, name: str, args: QueueWorkersArgs, kind: str) -> Workers:
    """The ModelQueue, the TriggerAuthentication and the workers' ModelAPI, parented to `parent`."""
    qa: QueueArgs = args.get("queue") or {}
    child = pulumi.ResourceOptions(parent=parent)
    queue = ModelQueue(f"{name}-queue", {
        "kind": kind, "max_receives": int(qa.get("max_receives", q.MAX_RECEIVES)),
        "result_expiry_days": int(qa.get("result_expiry_days", q.RESULT_EXPIRY_DAYS)),
        "message_timeout_seconds": int(qa.get("message_timeout_seconds", q.MESSAGE_TIMEOUT_SECONDS)),
        "keda_role_arn": args.get("keda_role_arn"), "tags": dict(args.get("tags") or {})}, child)
    model = str(args.get("model_name") or name)
    namespace = str(args.get("namespace") or "models")
    auth_name = f"{model}-queue"
    ta = q.trigger_authentication(auth_name, namespace, {"app.kubernetes.io/name": model,
                                                         "app.kubernetes.io/managed-by": "modelstack"},
                                  queue.scaler_role_arn if args.get("keda_role_arn") is not None else None)
    # Kubernetes objects use the provider the calling component was given (inherited through `parent`).
    auth = CustomResource(f"{name}-trigger-auth", api_version=ta["apiVersion"], kind=ta["kind"],
                          metadata=ta["metadata"], spec=ta["spec"], opts=child)
    api = ModelAPI(f"{name}-workers", worker_args(name, args, queue, auth_name),
                   pulumi.ResourceOptions(parent=parent, depends_on=[auth]))
    return Workers(queue=queue, api=api, authentication=auth)
