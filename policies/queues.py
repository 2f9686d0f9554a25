"""Queue and bucket rules (AsyncModelAPI / BatchModelAPI, or any SQS queue and S3 bucket of the stack): encryption
at rest, no public bucket, a dead-letter queue behind every work queue."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from modelstack.render.queue import DLQ_TAG, DLQ_TAG_VALUE

from .rule import Context, Param, Resource, as_list, get, glob_any, is_unknown, key, parse_json_document, \
    resource_rule, stack_rule

QUEUE = "aws:sqs/queue:Queue"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@resource_rule(
    "sqs-encryption", category="security", level="mandatory", types={QUEUE},
    description="SQS queues are encrypted at rest (SSE-SQS or a KMS key).",
    why="Queued requests carry the users' payloads.",
)
def sqs_encryption(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    sse, kms = get(props, "sqsManagedSseEnabled"), get(props, "kmsMasterKeyId")
    if is_unknown(sse) or is_unknown(kms):
        return
    if sse is not True and not kms:
        yield "neither sqsManagedSseEnabled: true nor kmsMasterKeyId: messages are stored unencrypted"


@stack_rule(
    "sqs-dead-letter-queue", category="reliability", level="mandatory",
    description="Every work queue has a dead-letter queue (a redrivePolicy with maxReceiveCount).",
    why="Without one a request that always fails (a poison message) is retried until it expires, keeping a worker "
        "busy and the queue from ever draining to zero.",
    params={"exceptions": Param(["*-karpenter-interruption"], {"type": "array", "items": {"type": "string"}},
                                "Queue resource names that need none (Karpenter's interruption queue: its "
                                "controller deletes what it cannot handle).")},
)
def sqs_dead_letter_queue(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    for r in resources:
        if r.type != QUEUE or glob_any(r.name, ctx["exceptions"]):
            continue
        if key(get(r.props, "tags"), DLQ_TAG) == DLQ_TAG_VALUE:
            continue
        raw = get(r.props, "redrivePolicy")
        if is_unknown(raw):
            continue
        doc = parse_json_document(raw) if raw else None
        if not isinstance(doc, Mapping) or not doc.get("deadLetterTargetArn") or not doc.get("maxReceiveCount"):
            yield r.urn, f"queue {r.name} has no redrivePolicy (deadLetterTargetArn and maxReceiveCount)"


def _siblings(resources: Sequence[Resource], bucket: Resource, typ: str) -> list[Resource]:
    return [r for r in resources if r.type == typ and r.parent == bucket.parent]


@stack_rule(
    "s3-encryption", category="security", level="mandatory",
    description="Every S3 bucket has a default server-side encryption configuration.",
    why="Payloads and results are the users' data; the configuration makes the choice explicit and reviewable.",
)
def s3_encryption(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    for b in (r for r in resources if r.type == BUCKET):
        configs = _siblings(resources, b, BUCKET_ENCRYPTION)
        algos = [key(key(rule, "applyServerSideEncryptionByDefault"), "sseAlgorithm")
                 for c in configs for rule in as_list(get(c.props, "rules"))]
        if not any(is_unknown(a) or a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algos):
            yield b.urn, f"bucket {b.name} has no BucketServerSideEncryptionConfiguration with an sseAlgorithm"


@stack_rule(
    "s3-no-public-access", category="security", level="mandatory",
    description="Every S3 bucket blocks public access (all four BucketPublicAccessBlock settings true).",
    why="A public bucket, or one a later ACL or policy could make public, would publish requests and results.",
)
def s3_no_public_access(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    for b in (r for r in resources if r.type == BUCKET):
        blocks = _siblings(resources, b, BUCKET_PUBLIC_ACCESS)
        if not blocks:
            yield b.urn, f"bucket {b.name} has no BucketPublicAccessBlock"
            continue
        for blk in blocks:
            off = [f for f in PUBLIC_ACCESS_FLAGS if not is_unknown(get(blk.props, f)) and get(blk.props, f) is not True]
            if off:
                yield blk.urn, f"bucket {b.name}: {', '.join(off)} not true"
