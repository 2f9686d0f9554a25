"""ModelQueue: the AWS side of an AsyncModelAPI or BatchModelAPI: its SQS queue and dead-letter queue, its S3
bucket, and the least-privilege policies of its workers, its gateway and KEDA's scaler."""

import json
import sys
from typing import Any, Optional, TypedDict, cast

import pulumi
import pulumi_aws as aws

from modelstack.render import iam
from modelstack.render import queue as q

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

TYPE_TOKEN = "modelstack:index:ModelQueue"


class ModelQueueArgs(TypedDict):
    kind: str
    """"async" (requests/ prefix) or "batch" (jobs/ prefix)."""
    max_receives: NotRequired[int]
    """Receives before a message goes to the DLQ. Default 3."""
    result_expiry_days: NotRequired[int]
    """Days after which objects under the prefix expire. Default 7."""
    message_timeout_seconds: NotRequired[int]
    """The queue's visibility timeout (the consumer refreshes it at half while a request runs). Default 60."""
    keda_role_arn: NotRequired[Optional[pulumi.Input[str]]]
    """KEDA operator's role: given, a scaler role it may assume is made (read depth of this queue only).
    Default none: KEDA reads the queue with its own identity."""
    tags: NotRequired[dict[str, str]]
    """Tags on every AWS resource. Default none."""


class ModelQueue(pulumi.ComponentResource):
    """SQS queue + DLQ (SSE-SQS encryption, redrive after `max_receives`, long polling), an S3 bucket (SSE-S3 with a
    bucket key, public access blocked, TLS-only bucket policy, results expiring after `result_expiry_days`), and three
    managed policies, each naming only this queue and this bucket's prefix: workers (receive, delete, extend; read
    and write objects), gateway (send; read and write objects) and scaler (GetQueueAttributes)."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    bucket: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    worker_policy_arn: pulumi.Output[str]
    gateway_policy_arn: pulumi.Output[str]
    scaler_role_arn: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: ModelQueueArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        kind = args["kind"]
        if kind not in q.KINDS:
            raise ValueError(f"ModelQueue {name!r}: kind {kind!r}: allowed {', '.join(q.KINDS)}")
        receives = int(args.get("max_receives", q.MAX_RECEIVES))
        days = int(args.get("result_expiry_days", q.RESULT_EXPIRY_DAYS))
        if days < 1:
            raise ValueError(f"ModelQueue {name!r}: result_expiry_days {days}: at least 1")
        visibility = int(args.get("message_timeout_seconds", q.MESSAGE_TIMEOUT_SECONDS))
        q.redrive_policy("arn", receives)  # validates the count before anything registers
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.get("tags") or {})

        dlq = aws.sqs.Queue(f"{name}-dlq", sqs_managed_sse_enabled=True,
                            message_retention_seconds=q.DLQ_RETENTION_SECONDS,
                            tags={**tags, q.DLQ_TAG: q.DLQ_TAG_VALUE}, opts=child)
        queue = aws.sqs.Queue(
            f"{name}-queue", sqs_managed_sse_enabled=True, visibility_timeout_seconds=visibility,
            receive_wait_time_seconds=q.WAIT_TIME_SECONDS, message_retention_seconds=q.RETENTION_SECONDS,
            redrive_policy=dlq.arn.apply(lambda a: q.redrive_policy(a, receives)), tags=tags, opts=child)
        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False, tags=tags, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption", bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-bucket-public-access", bucket=bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        # render/ stays free of the provider's types: its plain rule is the provider's args dict, field for field.
        rule = cast(aws.s3.BucketLifecycleConfigurationRuleArgsDict, q.lifecycle_rule(kind, days))
        aws.s3.BucketLifecycleConfiguration(f"{name}-bucket-lifecycle", bucket=bucket.id, rules=[rule], opts=child)
        aws.s3.BucketPolicy(f"{name}-bucket-tls-only", bucket=bucket.id,
                            policy=bucket.arn.apply(lambda a: iam.to_json(q.tls_only_bucket_policy(a))), opts=child)

        def policy(role: str, statements: pulumi.Output[list[dict[str, Any]]]) -> aws.iam.Policy:
            return aws.iam.Policy(f"{name}-{role}-policy", description=f"{name}: {role} ({kind} queue and bucket)",
                                  policy=statements.apply(lambda s: iam.to_json(iam.statements_policy(s))),
                                  tags=tags, opts=child)

        arns = pulumi.Output.all(queue.arn, bucket.arn)
        workers = policy("workers", arns.apply(lambda v: q.worker_statements(v[0], v[1], kind)))
        gateway = policy("gateway", arns.apply(lambda v: q.gateway_statements(v[0], v[1])))
        scaler_role: Optional[aws.iam.Role] = None
        keda_role_arn = args.get("keda_role_arn")
        if keda_role_arn is not None:
            scaler_role = aws.iam.Role(
                f"{name}-scaler-role", description=f"{name}: KEDA reads the queue depth", path=q.SCALER_ROLE_PATH,
                assume_role_policy=pulumi.Output.from_input(keda_role_arn).apply(
                    lambda a: json.dumps(q.assume_from_policy(a))), tags=tags, opts=child)
            aws.iam.RolePolicy(f"{name}-scaler-policy", role=scaler_role.id,
                               policy=queue.arn.apply(lambda a: iam.to_json(iam.statements_policy(q.scaler_statements(a)))),
                               opts=child)

        self.queue_url, self.queue_arn = queue.url, queue.arn
        self.dlq_url, self.dlq_arn = dlq.url, dlq.arn
        self.bucket, self.bucket_arn = bucket.bucket, bucket.arn
        self.worker_policy_arn, self.gateway_policy_arn = workers.arn, gateway.arn
        self.scaler_role_arn = scaler_role.arn if scaler_role is not None else pulumi.Output.from_input(None)
        self.register_outputs({"queue_url": self.queue_url, "queue_arn": self.queue_arn, "dlq_url": self.dlq_url,
                               "dlq_arn": self.dlq_arn, "bucket": self.bucket, "bucket_arn": self.bucket_arn,
                               "worker_policy_arn": self.worker_policy_arn,
                               "gateway_policy_arn": self.gateway_policy_arn, "scaler_role_arn": self.scaler_role_arn})
