"""The async/batch data plane: Redpanda Connect configs for the gateway and the queue consumer, the IAM documents
of each role, the SQS redrive policy and the S3 lifecycle rule (pure: plain dicts, tested without mocks).

Redpanda Connect (formerly Benthos) is the pinned software both run, configured by these configs as the
request-limit proxy is HAProxy configured by render/proxy.py. Fields and defaults used here are read from
redpanda-data/connect v4.105.0 and its redpanda-data/benthos v4.77.0 (data/UPSTREAM.md, "Redpanda Connect"); the
e2e data-plane run lints every config with the real binary at that pin and drives it against moto.

Bucket layout (one bucket per API):
    requests/<id>/payload|status|result|error     an async request (the gateway writes payload and status)
    jobs/<job>/job.json                           a batch job: items total, batch sizes (written by `batch submit`)
    jobs/<job>/<n>/payload|status|result|error    batch n of the job
Every SQS message body is `{"id": ..., "key": "<requests/<id> | jobs/<job>/<n>>"}`; the consumer reads
`<key>/payload`, POSTs it to the model server and writes `<key>/result` and `<key>/status`; on the last allowed
receive a failure writes `<key>/error` and status failed, and SQS moves the message to the DLQ (redrive policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import yaml

#: Redpanda Connect's release image on ECR Public (.goreleaser/connect.yaml `dockers_v2.images`, tag `{{.Version}}`).
IMAGE = "public.ecr.aws/l9j0i2e0/connect:4.105.0"
#: The image's binary and its non-root user (resources/docker/Dockerfile: ENTRYPOINT /redpanda-connect, uid 10001).
BINARY = "/redpanda-connect"
USER_ID = 10001
#: The service-wide HTTP server (benthos `http.address` default 0.0.0.0:4195): /ping and /ready for probes.
HTTP_PORT = 4195
GATEWAY_PORT = 8080
HEALTH_PATH = "/healthz"
"""The gateway answers 200 here (readiness, and the ALB's health check through the proxy)."""
CONFIG_ENV = "MODELSTACK_CONNECT_CONFIG"
CONFIG_PATH = "/tmp/connect.yaml"
CONSUMER_CONTAINER = "queue-consumer"
CONSUMER_CPU, CONSUMER_MEMORY = "100m", "128Mi"
"""The consumer's default requests (memory also its limit), counted by sizing as the proxy's are."""
KINDS = ("async", "batch")
PREFIX = {"async": "requests", "batch": "jobs"}
STATUSES = ("in_queue", "in_progress", "completed", "failed")

#: SQS defaults where the user gives none (and AWS's own limits, SQS developer guide "Quotas").
MAX_RECEIVES = 3
"""Receives before SQS moves a message to the DLQ (RedrivePolicy maxReceiveCount; AWS allows 1-1000)."""
MESSAGE_TIMEOUT_SECONDS = 60
"""The consumer's visibility timeout, refreshed at half of it while a request runs (aws_sqs `message_timeout`)."""
RETENTION_SECONDS = 4 * 24 * 3600
"""Messages kept in the queue (SQS default 4 days); the DLQ keeps them 14 days (the maximum)."""
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
RESULT_EXPIRY_DAYS = 7
"""Objects under the API's prefix expire (S3 lifecycle) this many days after they were written."""
WAIT_TIME_SECONDS = 20
"""Long polling (SQS maximum 20 s): fewer empty receives, each a billed request."""
BATCH_SIZE = 100
#: The tag of a dead-letter queue: the policy pack's sqs-dead-letter-queue rule needs no DLQ behind it.
DLQ_TAG, DLQ_TAG_VALUE = "modelstack.io/queue-role", "dead-letter"
#: The message's content as a cache value: the cache processor's `value` has no default (an empty value is stored).
CONTENT = "${! content() }"


@dataclass(frozen=True)
class Endpoints:
    """Where the AWS APIs are: None in AWS (the SDK resolves them from the region); a local endpoint in tests."""

    region: str
    endpoint: Optional[str] = None

    def session(self) -> dict[str, Any]:
        out: dict[str, Any] = {"region": self.region}
        if self.endpoint:
            out["endpoint"] = self.endpoint
        return out


def _store(bucket: str, aws: Endpoints) -> dict[str, Any]:
    conf: dict[str, Any] = {"bucket": bucket, "content_type": "application/json", **aws.session()}
    if aws.endpoint:
        conf["force_path_style_urls"] = True
    return {"label": "store", "aws_s3": conf}


def _probe_server() -> dict[str, Any]:
    return {"address": f"0.0.0.0:{HTTP_PORT}", "enabled": True}


def consumer_config(*, queue_url: str, bucket: str, aws: Endpoints, model_url: str, max_receives: int = MAX_RECEIVES,
                    request_timeout_seconds: int = 600, message_timeout_seconds: int = MESSAGE_TIMEOUT_SECONDS,
                    ) -> dict[str, Any]:
    """The queue consumer beside the model server: one message at a time (receive, POST `<key>/payload` to
    `model_url`, write the result, delete); a failure is nacked (visible again at once) and, on the last receive,
    recorded as failed before SQS dead-letters it. The visibility timeout is refreshed while the request runs."""
    def status(s: str) -> str:
        return json.dumps({"status": s}, separators=(",", ":"))

    return {
        "http": _probe_server(),
        "input": {"aws_sqs": {
            "url": queue_url, **aws.session(),
            "max_number_of_messages": 1, "max_outstanding_messages": 1,
            "wait_time_seconds": WAIT_TIME_SECONDS, "message_timeout": f"{message_timeout_seconds}s",
            "delete_message": True, "reset_visibility": True}},
        "pipeline": {"threads": 1, "processors": [
            {"mutation": 'meta key = this.key\nmeta receives = (@sqs_approximate_receive_count | "1").number()'},
            {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/status",
                       "value": status("in_progress")}},
            {"cache": {"resource": "store", "operator": "get", "key": "${! @key }/payload"}},
            {"http": {"url": model_url, "verb": "POST", "headers": {"Content-Type": "application/json"},
                      "timeout": f"{request_timeout_seconds}s", "retries": 0}},
            {"switch": [
                {"check": "!errored()", "processors": [
                    {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/result", "value": CONTENT}},
                    {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/status",
                               "value": status("completed")}}]},
                {"check": f"@receives >= {max_receives}", "processors": [
                    {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/error",
                               "value": "${! error() }"}},
                    {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/status",
                               "value": status("failed")}}]},
            ]},
        ]},
        # Errored messages are nacked (SQS counts the receive); the rest are acked, which deletes them.
        "output": {"reject_errored": {"drop": {}}},
        "cache_resources": [_store(bucket, aws)],
        "logger": {"level": "INFO", "format": "json"},
    }


def gateway_config(*, queue_url: str, bucket: str, aws: Endpoints, port: int = GATEWAY_PORT,
                   timeout_seconds: int = 10) -> dict[str, Any]:
    """The async API: `POST <path>` stores the body as `requests/<id>/payload`, marks it in_queue, queues
    `{"id", "key"}` and answers 202 with it; `GET <path>/<id>` answers the status and, once completed, the result
    (404 for an unknown id); `GET /healthz` answers 200. The id is the last path segment, so any route prefix works."""
    get_status = [
        {"mutation": 'let id = @http_server_request_path.split("/").filter(s -> s != "").index(-1).catch("")\n'
                     'meta id = $id\nmeta key = "requests/" + $id\n'
                     'root = if !$id.re_match("^[0-9a-f-]{36}$") { throw("not a request id") } else { "" }'},
        {"cache": {"resource": "store", "operator": "get", "key": "${! @key }/status"}},
        {"switch": [{"check": '!errored() && this.status == "completed"', "processors": [
            {"branch": {"request_map": 'root = ""',
                        "processors": [{"cache": {"resource": "store", "operator": "get",
                                                  "key": "${! @key }/result"}}],
                        "result_map": "root.result = content().string().parse_json().catch(content().string())"}}]}]},
        {"mutation": 'root = if errored() { {"id": @id, "error": "no such request"} } '
                     'else { this.merge({"id": @id}) }\n'
                     'meta status_code = if errored() { "404" } else { "200" }'},
        {"catch": []},
    ]
    post = [
        {"mutation": 'let id = uuid_v4()\nmeta id = $id\nmeta key = "requests/" + $id'},
        {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/payload", "value": CONTENT}},
        {"cache": {"resource": "store", "operator": "set", "key": "${! @key }/status",
                   "value": json.dumps({"status": "in_queue"}, separators=(",", ":"))}},
        {"mutation": 'root = {"id": @id, "key": @key, "status": "in_queue"}\nmeta status_code = "202"'},
    ]
    return {
        "http": _probe_server(),
        "input": {"http_server": {
            "address": f"0.0.0.0:{port}", "path": "/", "allowed_verbs": ["POST", "GET"],
            "timeout": f"{timeout_seconds}s",
            "sync_response": {"status": '${! @status_code | "500" }',
                              "headers": {"Content-Type": "application/json"}}}},
        "pipeline": {"processors": [
            {"switch": [{"check": '@http_server_verb == "POST"', "processors": post},
                        {"check": f'@http_server_request_path == "{HEALTH_PATH}"',
                         "processors": [{"mutation": 'root = {"status": "ok"}\nmeta status_code = "200"'}]},
                        {"processors": get_status}]},
            {"sync_response": {}},
        ]},
        "output": {"switch": {"cases": [
            {"check": '@http_server_verb == "POST"', "output": {"aws_sqs": {"url": queue_url, **aws.session(),
                                                                           "max_in_flight": 64}}},
            {"output": {"drop": {}}}]}},
        "cache_resources": [_store(bucket, aws)],
        "logger": {"level": "INFO", "format": "json"},
    }


def to_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, width=1000)


def wrapper_command() -> list[str]:
    """The container's command: write the config from its variable to /tmp (the pod's writable emptyDir; the root
    file system is read-only) and run it. The image is busybox-based (resources/docker/Dockerfile), so `sh` is
    there; the rendered config in the pod spec rolls the pods when it changes."""
    return ["/bin/sh", "-c", f'printf "%s" "${CONFIG_ENV}" > {CONFIG_PATH} && exec {BINARY} run {CONFIG_PATH}']


# ---------------------------------------------------------------------------------------------- AWS documents


def redrive_policy(dlq_arn: str, max_receives: int) -> str:
    """The SQS RedrivePolicy attribute (a JSON string): after `max_receives` receives a message goes to the DLQ."""
    if not 1 <= max_receives <= 1000:
        raise ValueError(f"max_receives {max_receives}: from 1 to 1000 (SQS maxReceiveCount)")
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})


def lifecycle_rule(kind: str, days: int) -> dict[str, Any]:
    """Expire everything under the API's prefix `days` after it was written (and abort stale multipart uploads)."""
    return {"id": f"expire-{PREFIX[kind]}", "status": "Enabled", "filter": {"prefix": f"{PREFIX[kind]}/"},
            "expiration": {"days": days}, "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}


def objects_arn(bucket_arn: str, kind: str) -> str:
    return f"{bucket_arn}/{PREFIX[kind]}/*"


def worker_statements(queue_arn: Any, bucket_arn: Any, kind: str) -> list[dict[str, Any]]:
    """The consumer's rights: receive/delete/extend its own queue's messages, read and write its own prefix
    (the calls redpanda-data/connect v4.105.0 internal/impl/aws/sqs/input.go and s3/cache.go make)."""
    return [
        {"actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], "resources": [queue_arn]},
        {"actions": ["s3:GetObject", "s3:PutObject"], "resources": [objects_arn(bucket_arn, kind)]},
    ]


def gateway_statements(queue_arn: Any, bucket_arn: Any) -> list[dict[str, Any]]:
    """The gateway's rights: send to its own queue, write payloads and read statuses under requests/."""
    return [
        {"actions": ["sqs:SendMessage"], "resources": [queue_arn]},
        {"actions": ["s3:GetObject", "s3:PutObject"], "resources": [objects_arn(bucket_arn, "async")]},
    ]


def scaler_statements(queue_arn: Any) -> list[dict[str, Any]]:
    """KEDA's aws-sqs-queue scaler reads queue depth only (GetQueueAttributes, pkg/scalers/aws_sqs_queue_scaler.go)."""
    return [{"actions": ["sqs:GetQueueAttributes"], "resources": [queue_arn]}]


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, Any]:
    """Deny every request to the bucket that does not use TLS (aws:SecureTransport false)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


#: The IAM path of every per-API scaler role: KEDA's operator role may assume roles under it (and nothing else).
SCALER_ROLE_PATH = "/modelstack/keda-scaler/"
#: KEDA's operator ServiceAccount (kedacore/charts v2.20.2 keda/values.yaml `serviceAccount.operator.name`).
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"


def assume_from_policy(role_arn: str) -> dict[str, Any]:
    """Trust policy: `role_arn` (KEDA's operator role) may assume this role (KEDA's AssumeRole fallback)."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": role_arn},
                                                     "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def keda_operator_statements(partition: str = "aws") -> list[dict[str, Any]]:
    """KEDA's operator may assume the scaler roles (under SCALER_ROLE_PATH; each trusts only KEDA's role)."""
    return [{"actions": ["sts:AssumeRole", "sts:TagSession"],
             "resources": [f"arn:{partition}:iam::*:role{SCALER_ROLE_PATH}*"]}]


def trigger_authentication(name: str, namespace: str, labels: dict[str, str], role_arn: Any = None) -> dict[str, Any]:
    """KEDA TriggerAuthentication with podIdentity provider `aws`: KEDA's operator uses its own identity, and
    assumes `role_arn` when given (kedacore/keda v2.20.2 pkg/scalers/aws/aws_common.go GetAwsAuthorization)."""
    pid: dict[str, Any] = {"provider": "aws"}
    if role_arn is not None:
        pid["roleArn"] = role_arn
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": {"podIdentity": pid}}


def batches(total: int, batch_size: int) -> list[int]:
    """Sizes of the batches a job of `total` items is split into."""
    if total < 1 or batch_size < 1:
        raise ValueError(f"a job needs at least one item and a batch size >= 1 (got {total} items, {batch_size})")
    return [min(batch_size, total - i) for i in range(0, total, batch_size)]
