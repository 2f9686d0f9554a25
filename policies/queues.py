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


#: Since 2023 S3 encrypts every new object with SSE-S3 and turns Block Public Access on for every new bucket (S3 user
#: guide, "Setting default server-side encryption behavior" and "Blocking public access"); so a bucket that states
#: nothing is encrypted and closed, and these rules judge what a stack states: a weaker setting is the violation.
ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")


@stack_rule(
    "s3-encryption", category="security", level="mandatory",
    description="No S3 bucket's encryption configuration leaves out the algorithm (AES256, aws:kms or aws:kms:dsse); "
                "a bucket without one gets S3's default SSE-S3.",
    why="Payloads and results are the users' data; a configuration that names no algorithm is a mistake to catch.",
)
def s3_encryption(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    for c in (r for r in resources if r.type == BUCKET_ENCRYPTION):
        rules = as_list(get(c.props, "rules"))
        algos = [key(key(rule, "applyServerSideEncryptionByDefault"), "sseAlgorithm") for rule in rules]
        if not algos or any(not is_unknown(a) and a not in ALGORITHMS for a in algos):
            yield c.urn, f"{c.name}: sseAlgorithm {algos or 'missing'}; one of {', '.join(ALGORITHMS)}"


@stack_rule(
    "s3-no-public-access", category="security", level="mandatory",
    description="No S3 bucket is opened: no public canned ACL, and a BucketPublicAccessBlock (when given) keeps all "
                "four settings true.",
    why="A public bucket, or one a later ACL or policy could make public, would publish requests and results.",
)
def s3_no_public_access(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    for b in (r for r in resources if r.type == BUCKET):
        acl = get(b.props, "acl")
        if isinstance(acl, str) and acl in PUBLIC_ACLS:
            yield b.urn, f"bucket {b.name} has the public canned ACL {acl!r}"
    for blk in (r for r in resources if r.type == BUCKET_PUBLIC_ACCESS):
        off = [f for f in PUBLIC_ACCESS_FLAGS if not is_unknown(get(blk.props, f)) and get(blk.props, f) is not True]
        if off:
            yield blk.urn, f"{blk.name}: {', '.join(off)} not true"
