"""The queue-backed APIs of a plan (AsyncModelAPI, BatchModelAPI): their queue, DLQ redrive, result expiry and what
their requests cost in SQS and S3 at the README's example sizes (capacity/queue_cost.py). Pure, over recorded
resources."""

from __future__ import annotations

import json
from typing import Any

from modelstack.capacity import queue_cost as qc
from modelstack.plan.mocks import Recorded

KINDS = {"modelstack:index:AsyncModelAPI": "async", "modelstack:index:BatchModelAPI": "batch"}


def _child(resources: list[Recorded], typ: str, name: str) -> dict[str, Any]:
    """Inputs of the resource of `typ` named `name` (children are named from their API's name, unique per stack)."""
    return next((r.inputs for r in resources if r.type == typ and r.name == name), {})


def queue_apis(resources: list[Recorded]) -> list[dict[str, Any]]:
    """One entry per queue-backed API: kind, max receives, result expiry, and request costs."""
    out = []
    for api in (r for r in resources if r.type in KINDS):
        kind = KINDS[api.type]
        queue = _child(resources, "aws:sqs/queue:Queue", f"{api.name}-queue-queue")
        life = _child(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                      f"{api.name}-queue-bucket-lifecycle")
        redrive = json.loads(queue.get("redrivePolicy") or "{}") if isinstance(queue.get("redrivePolicy"), str) else {}
        rules = life.get("rules") or [{}]
        idle = qc.idle_month().dollars
        if kind == "async":
            example = f"{qc.EXAMPLE_ASYNC_REQUESTS:,} requests of {qc.EXAMPLE_PAYLOAD_BYTES // 1024} KiB, {qc.EXAMPLE_POLLS} polls each"
            dollars = (qc.async_request() * qc.EXAMPLE_ASYNC_REQUESTS).dollars
        else:
            example = f"a job of {qc.EXAMPLE_JOB_ITEMS:,} items in batches of {qc.EXAMPLE_BATCH_SIZE}"
            dollars = qc.batch_job(qc.EXAMPLE_JOB_ITEMS, qc.EXAMPLE_BATCH_SIZE).dollars
        out.append({"name": api.name, "kind": kind, "max_receives": redrive.get("maxReceiveCount"),
                    "result_expiry_days": ((rules[0] or {}).get("expiration") or {}).get("days"),
                    "example": example, "example_dollars": round(dollars, 4),
                    "idle_dollars_per_month": round(idle, 4)})
    return out


def table_rows(apis: list[dict[str, Any]]) -> list[list[Any]]:
    return [[a["name"], a["kind"], a["max_receives"], f"{a['result_expiry_days']} days", a["example"],
             f"${a['example_dollars']:,.2f}", f"${a['idle_dollars_per_month']:,.2f}"] for a in apis]


HEAD = ["api", "kind", "DLQ after", "results expire", "example (README)", "SQS + S3 requests", "idle/month (KEDA polls)"]
