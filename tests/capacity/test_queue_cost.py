"""capacity/queue_cost.py: the SQS and S3 calls of an async request and a batch job, priced."""

from __future__ import annotations

import pytest

from modelstack.capacity import queue_cost as qc


def test_sqs_bills_each_64_kib_chunk() -> None:
    assert [qc.sqs_requests(n) for n in (0, 1, 64 * 1024, 64 * 1024 + 1, 256 * 1024)] == [1, 1, 1, 2, 4]


def test_async_request_calls() -> None:
    c = qc.async_request(polls=3)
    assert (c.sqs, c.s3_put, c.s3_get) == (3, 5, 5)
    # 3 x $0.40/M + 5 x $0.005/1K + 5 x $0.0004/1K
    assert c.dollars == pytest.approx(3 * 0.4e-6 + 5 * 5e-6 + 5 * 0.4e-6)


def test_batch_job_calls_scale_with_batches_not_items() -> None:
    a, b = qc.batch_job(1000, 100), qc.batch_job(1000, 10)
    assert a.sqs == 1 + 2 * 10 and b.sqs == 10 + 2 * 100
    assert b.dollars > 9 * a.dollars


def test_idle_queue_costs_keda_polls_only() -> None:
    assert qc.idle_month().sqs == 360 * 730
    assert qc.idle_month(2).dollars == pytest.approx(2 * 360 * 730 * 0.4e-6)


def test_readme_states_the_example_figures() -> None:
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    asynch = (qc.async_request(qc.EXAMPLE_POLLS) * qc.EXAMPLE_ASYNC_REQUESTS).dollars
    job = qc.batch_job(qc.EXAMPLE_JOB_ITEMS, qc.EXAMPLE_BATCH_SIZE).dollars
    assert f"**${asynch:,.2f}**" in readme and f"**${job:,.2f}**" in readme
    assert f"${qc.idle_month().dollars:,.2f} a month in KEDA's polls" in readme
