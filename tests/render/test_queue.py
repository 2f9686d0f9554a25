"""render/queue.py and the queue signal of render/autoscaling.py: the configs' behaviour-bearing parts, the AWS
documents, and the queue-length -> replicas rule held to KEDA v2.20.2's scaler and the HPA's formula."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from modelstack.render import autoscaling, queue as q

AWS = q.Endpoints("us-east-1")
ROOT = Path(__file__).resolve().parents[2]
QURL = "https://sqs.us-east-1.amazonaws.com/123456789012/summarize-queue"


def consumer(**kw) -> dict:
    return q.consumer_config(queue_url=QURL, bucket="b-1", aws=AWS, model_url="http://127.0.0.1:8080/", **kw)


def test_consumer_takes_one_message_at_a_time_and_keeps_it_invisible_while_it_runs() -> None:
    sqs = consumer(message_timeout_seconds=90)["input"]["aws_sqs"]
    assert sqs["max_outstanding_messages"] == 1 and sqs["max_number_of_messages"] == 1
    assert sqs["message_timeout"] == "90s" and sqs["wait_time_seconds"] == 20
    assert sqs["delete_message"] is True and sqs["reset_visibility"] is True
    assert "endpoint" not in sqs  # in AWS the SDK resolves it from the region


def test_consumer_records_failure_only_on_the_last_receive_and_nacks_errors() -> None:
    c = consumer(max_receives=5)
    cases = c["pipeline"]["processors"][4]["switch"]
    assert cases[0]["check"] == "!errored()"
    assert cases[1]["check"] == "@receives >= 5"
    assert [p["cache"]["key"] for p in cases[1]["processors"]] == ["${! @key }/error", "${! @key }/status"]
    assert c["output"] == {"reject_errored": {"drop": {}}}
    http = c["pipeline"]["processors"][3]["http"]
    assert http["retries"] == 0  # SQS counts the attempts, not the HTTP client


def test_every_cache_write_states_its_value() -> None:
    # The cache processor's `value` has no default: a set without it stores an empty object (data/UPSTREAM.md).
    for config in (consumer(), q.gateway_config(queue_url=QURL, bucket="b-1", aws=AWS)):
        text = json.dumps(config)
        sets = [m for m in _walk(config) if isinstance(m, dict) and m.get("operator") == "set"]
        assert sets and all("value" in m for m in sets), text


def _walk(x):
    yield x
    if isinstance(x, dict):
        for v in x.values():
            yield from _walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from _walk(v)


def test_local_endpoint_uses_path_style_for_the_bucket() -> None:
    c = q.consumer_config(queue_url=QURL, bucket="b-1", aws=q.Endpoints("us-east-1", "http://127.0.0.1:5000"),
                          model_url="http://127.0.0.1:8080/")
    store = c["cache_resources"][0]["aws_s3"]
    assert store["endpoint"] == "http://127.0.0.1:5000" and store["force_path_style_urls"] is True


def test_gateway_posts_to_the_queue_and_answers_gets_itself() -> None:
    g = q.gateway_config(queue_url=QURL, bucket="b-1", aws=AWS, port=8081)
    hs = g["input"]["http_server"]
    assert hs["address"] == "0.0.0.0:8081" and hs["allowed_verbs"] == ["POST", "GET"] and hs["path"] == "/"
    cases = g["output"]["switch"]["cases"]
    assert cases[0]["output"]["aws_sqs"]["url"] == QURL and cases[1]["output"] == {"drop": {}}


def test_redrive_policy_bounds() -> None:
    assert json.loads(q.redrive_policy("arn:dlq", 3)) == {"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": 3}
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="from 1 to 1000"):
            q.redrive_policy("arn:dlq", bad)


def test_statements_name_only_the_queue_and_the_prefix() -> None:
    w = q.worker_statements("arn:q", "arn:aws:s3:::b", "batch")
    assert {r for s in w for r in s["resources"]} == {"arn:q", "arn:aws:s3:::b/jobs/*"}
    g = q.gateway_statements("arn:q", "arn:aws:s3:::b")
    assert {a for s in g for a in s["actions"]} == {"sqs:SendMessage", "s3:GetObject", "s3:PutObject"}
    assert q.scaler_statements("arn:q") == [{"actions": ["sqs:GetQueueAttributes"], "resources": ["arn:q"]}]


@given(total=st.integers(1, 5000), size=st.integers(1, 600))
def test_batches_cover_every_item_once(total: int, size: int) -> None:
    b = q.batches(total, size)
    assert sum(b) == total and len(b) == math.ceil(total / size) and all(0 < x <= size for x in b)


# ---- queue length -> replicas -----------------------------------------------------------------------------------


def test_trigger_metadata_names_are_kedas() -> None:
    k = autoscaling.Knobs(min_replicas=0, max_replicas=10, scale_to_zero=True, signal=autoscaling.QUEUE_SIGNAL)
    t = autoscaling.Target(deployment="d", namespace="n", container="model",
                           queue=autoscaling.QueueTarget(queue_url=QURL, region="us-east-1", authentication="d-queue",
                                                         queue_length=2))
    spec = autoscaling.scaled_object_spec(k, t)
    (trig,) = spec["triggers"]
    # pkg/scalers/aws_sqs_queue_scaler.go v2.20.2 awsSqsQueueMetadata `keda:"name=..."` tags.
    assert trig["type"] == "aws-sqs-queue"
    assert set(trig["metadata"]) <= {"queueURL", "queueLength", "activationQueueLength", "awsRegion", "awsEndpoint",
                                     "scaleOnInFlight", "scaleOnDelayed", "identityOwner"}
    assert trig["metadata"]["queueLength"] == "2" and spec["minReplicaCount"] == 0


def test_endpoint_is_rendered_only_when_given() -> None:
    k = autoscaling.Knobs(min_replicas=0, max_replicas=4, scale_to_zero=True, signal=autoscaling.QUEUE_SIGNAL)

    def meta(**q: str) -> dict:
        t = autoscaling.Target(deployment="d", namespace="n", container="model",
                               queue=autoscaling.QueueTarget(queue_url=QURL, region="us-east-1", authentication="a", **q))
        return autoscaling.scaled_object_spec(k, t)["triggers"][0]["metadata"]

    assert "awsEndpoint" not in meta()
    assert meta(endpoint="http://10.1.2.3:4566")["awsEndpoint"] == "http://10.1.2.3:4566"


def test_scaler_counts_in_flight_messages_by_default() -> None:
    assert autoscaling.sqs_queue_length(7, 3, 4) == 10
    assert autoscaling.sqs_queue_length(7, 3, 4, scale_on_in_flight=False, scale_on_delayed=True) == 11


@given(length=st.integers(0, 5000), per=st.integers(1, 50), current=st.integers(0, 100),
       lo=st.integers(0, 3), hi=st.integers(3, 200))
def test_replicas_follow_hpa_average_value(length: int, per: int, current: int, lo: int, hi: int) -> None:
    k = autoscaling.Knobs(min_replicas=lo, max_replicas=hi, scale_to_zero=lo == 0, signal=autoscaling.QUEUE_SIGNAL)
    t = autoscaling.QueueTarget(queue_url=QURL, region="us-east-1", authentication="a", queue_length=per)
    n = autoscaling.queue_replicas(length, t, k, current)
    if lo == 0 and length == 0:
        assert n == 0  # KEDA deactivates at or below activationQueueLength (0)
        return
    assert max(lo, 1) <= n <= hi
    want = math.ceil(length / per)
    if current and abs(length / (per * current) - 1) <= autoscaling.HPA_DEFAULT_TOLERANCE:
        want = current
    assert n == min(hi, max(lo, 1, want))


def test_replicas_examples() -> None:
    k = autoscaling.Knobs(min_replicas=0, max_replicas=20, scale_to_zero=True, signal=autoscaling.QUEUE_SIGNAL)
    t = autoscaling.QueueTarget(queue_url=QURL, region="us-east-1", authentication="a", queue_length=5)
    assert [autoscaling.queue_replicas(n, t, k, 0) for n in (0, 1, 5, 6, 99, 1000)] == [0, 1, 1, 2, 20, 20]
    assert autoscaling.queue_replicas(52, t, k, 10) == 10  # 52 / (5 x 10) = 1.04: within the 10 % tolerance


# ---- pins held to data/UPSTREAM.md and e2e/versions.env -----------------------------------------------------------



def test_image_binary_and_upstream_facts_name_one_version() -> None:
    versions = dict(line.split("#")[0].strip().split("=", 1) for line in
                    (ROOT / "e2e" / "versions.env").read_text().splitlines() if "=" in line.split("#")[0])
    tag = q.IMAGE.rsplit(":", 1)[1]
    assert versions["CONNECT_VERSION"] == f"v{tag}"
    upstream = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
    assert f"## Redpanda Connect {tag}" in upstream and f"tag **v{tag}**" in upstream
    assert q.IMAGE.startswith("public.ecr.aws/l9j0i2e0/connect:") and "public.ecr.aws/l9j0i2e0/connect" in upstream


def test_request_prices_are_the_documented_ones() -> None:
    from modelstack.capacity import queue_cost as qc
    doc = (ROOT / "components" / "data" / "FIXED_COSTS.md").read_text()
    rows = {line.split("|")[1].strip(): float(line.split("|")[2]) for line in doc.splitlines()
            if line.startswith("| S3 Standard") or line.startswith("| SQS standard")}
    assert [qc.SQS_PER_REQUEST * 1e6, qc.S3_PUT_PER_REQUEST * 1e3, qc.S3_GET_PER_REQUEST * 1e3] == pytest.approx(
        [v for k, v in sorted(rows.items(), key=lambda kv: ("SQS" not in kv[0], "GET" in kv[0]))])
