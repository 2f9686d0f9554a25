"""Batch jobs against a deployed BatchModelAPI: submit (split the items into batches, store each as
`jobs/<job>/<n>/payload`, queue one message per batch, record `jobs/<job>/job.json`) and status (count the
batches' results and errors). The clients are boto3's S3 and SQS clients (passed in: tests point them at moto).

The layout is render/queue.py's; the queue consumer beside each worker does the rest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

from modelstack.render import queue

SQS_SEND_BATCH = 10
"""Entries per SendMessageBatch (the SQS maximum)."""


@dataclass(frozen=True)
class JobStatus:
    job: str
    status: str
    """in_progress, completed (every item done), completed_with_failures (every batch done or dead-lettered)."""
    items_total: int
    items_done: int
    items_failed: int
    batches_total: int
    batches_done: int
    batches_failed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(job: str, n: Optional[int] = None) -> str:
    return f"{queue.PREFIX['batch']}/{job}" + (f"/{n}" if n is not None else "")


def submit(s3: Any, sqs: Any, *, bucket: str, queue_url: str, items: list[Any], batch_size: int = queue.BATCH_SIZE,
           job: Optional[str] = None) -> str:
    """Store and queue a job of `items` (any JSON values) in batches of `batch_size`; returns the job id."""
    job = job or str(uuid.uuid4())
    sizes = queue.batches(len(items), batch_size)
    s3.put_object(Bucket=bucket, Key=f"{_key(job)}/job.json", ContentType="application/json",
                  Body=json.dumps({"job": job, "items_total": len(items), "batch_size": batch_size,
                                   "batches": sizes}).encode())
    start = 0
    messages = []
    for n, size in enumerate(sizes):
        s3.put_object(Bucket=bucket, Key=f"{_key(job, n)}/payload", ContentType="application/json",
                      Body=json.dumps(items[start:start + size]).encode())
        s3.put_object(Bucket=bucket, Key=f"{_key(job, n)}/status", ContentType="application/json",
                      Body=b'{"status":"in_queue"}')
        messages.append({"Id": str(n), "MessageBody": json.dumps({"id": f"{job}/{n}", "key": _key(job, n)})})
        start += size
    for i in range(0, len(messages), SQS_SEND_BATCH):
        out = sqs.send_message_batch(QueueUrl=queue_url, Entries=messages[i:i + SQS_SEND_BATCH])
        if out.get("Failed"):
            raise RuntimeError(f"SQS refused {len(out['Failed'])} batch message(s) of job {job}: {out['Failed'][0]}")
    return job


def _keys(s3: Any, bucket: str, prefix: str) -> Iterable[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents") or ():
            yield o["Key"]


def status(s3: Any, *, bucket: str, job: str) -> JobStatus:
    """A job's counts from its objects: a batch is done when its result exists, failed when its error does."""
    spec = json.loads(s3.get_object(Bucket=bucket, Key=f"{_key(job)}/job.json")["Body"].read())
    sizes: list[int] = spec["batches"]
    done: set[int] = set()
    failed: set[int] = set()
    for k in _keys(s3, bucket, f"{_key(job)}/"):
        parts = k.split("/")
        if len(parts) == 4 and parts[2].isdigit():
            (done if parts[3] == "result" else failed if parts[3] == "error" else set()).add(int(parts[2]))
    failed -= done
    items_done = sum(sizes[n] for n in done)
    items_failed = sum(sizes[n] for n in failed)
    finished = len(done) + len(failed) == len(sizes)
    state = "in_progress" if not finished else "completed" if not failed else "completed_with_failures"
    return JobStatus(job=job, status=state, items_total=spec["items_total"], items_done=items_done,
                     items_failed=items_failed, batches_total=len(sizes), batches_done=len(done),
                     batches_failed=len(failed))
