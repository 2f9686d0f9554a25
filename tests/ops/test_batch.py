"""modelstack.ops.batch against moto's in-process SQS and S3: what submit stores and queues, what status counts."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from modelstack.ops import batch


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        s3.create_bucket(Bucket="jobs-bucket")
        url = sqs.create_queue(QueueName="scoring")["QueueUrl"]
        yield s3, sqs, url


def test_submit_stores_batches_and_queues_one_message_each(aws) -> None:
    s3, sqs, url = aws
    job = batch.submit(s3, sqs, bucket="jobs-bucket", queue_url=url, items=list(range(25)), batch_size=10, job="j1")
    assert job == "j1"
    spec = json.loads(s3.get_object(Bucket="jobs-bucket", Key="jobs/j1/job.json")["Body"].read())
    assert spec["batches"] == [10, 10, 5] and spec["items_total"] == 25
    assert json.loads(s3.get_object(Bucket="jobs-bucket", Key="jobs/j1/2/payload")["Body"].read()) == [20, 21, 22, 23, 24]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["key"] for m in msgs) == ["jobs/j1/0", "jobs/j1/1", "jobs/j1/2"]


def test_status_counts_items_of_done_and_failed_batches(aws) -> None:
    s3, sqs, url = aws
    batch.submit(s3, sqs, bucket="jobs-bucket", queue_url=url, items=list(range(25)), batch_size=10, job="j2")
    st = batch.status(s3, bucket="jobs-bucket", job="j2")
    assert (st.status, st.items_done, st.items_failed, st.batches_total) == ("in_progress", 0, 0, 3)
    s3.put_object(Bucket="jobs-bucket", Key="jobs/j2/0/result", Body=b"[]")
    s3.put_object(Bucket="jobs-bucket", Key="jobs/j2/2/result", Body=b"[]")
    assert batch.status(s3, bucket="jobs-bucket", job="j2").items_done == 15
    s3.put_object(Bucket="jobs-bucket", Key="jobs/j2/1/error", Body=b"model answered 500")
    st = batch.status(s3, bucket="jobs-bucket", job="j2")
    assert (st.status, st.items_done, st.items_failed, st.batches_failed) == ("completed_with_failures", 15, 10, 1)


def test_submit_refuses_an_empty_job(aws) -> None:
    s3, sqs, url = aws
    with pytest.raises(ValueError, match="at least one item"):
        batch.submit(s3, sqs, bucket="jobs-bucket", queue_url=url, items=[], batch_size=10)


def test_cli_submits_and_reads_a_job_through_the_stack_outputs(aws, tmp_path, capsys) -> None:
    from modelstack import cli
    s3, sqs, url = aws
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"region": "us-east-1", "models": {}, "queues": {
        "scoring": {"kind": "batch", "queue_url": url, "dlq_url": url + "-dlq", "bucket": "jobs-bucket"},
        "summarize": {"kind": "async", "queue_url": url, "dlq_url": url, "bucket": "jobs-bucket"}}}))
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"n": i}) for i in range(7)))
    assert cli.main(["batch", "submit", "scoring", str(items), "--batch-size", "3", "--outputs", str(outputs)]) == 0
    job = capsys.readouterr().out.strip()
    assert cli.main(["batch", "status", "scoring", job, "--outputs", str(outputs)]) == 0
    st = json.loads(capsys.readouterr().out)
    assert (st["items_total"], st["batches_total"], st["status"]) == (7, 3, "in_progress")
    assert cli.main(["batch", "submit", "summarize", str(items), "--outputs", str(outputs)]) == 2
    assert "kind async; batch jobs need kind batch" in capsys.readouterr().err
    assert cli.main(["batch", "status", "nope", job, "--outputs", str(outputs)]) == 2
    assert "its batch models: scoring" in capsys.readouterr().err
