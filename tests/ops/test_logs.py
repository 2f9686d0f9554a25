"""modelstack logs from CloudWatch: FilterLogEvents through botocore's Stubber, which holds every request and response
to the CloudWatch Logs service model botocore ships (the API reference's shapes)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from modelstack.ops import logs

GROUP = "/aws/eks/models-prod/models"
NOW = 1_800_000_000.0  # seconds


def client():
    return boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def ev(i: int, ts_ms: int, stream="sentiment.sentiment-7d4f9-abcde.model", msg="hello"):
    return {"logStreamName": stream, "timestamp": ts_ms, "message": f"{msg} {i}", "ingestionTime": ts_ms + 5,
            "eventId": f"id-{i}"}


def test_pages_from_the_models_stream_prefix_since_the_start():
    c = client()
    start = int((NOW - 3600) * 1000)
    with Stubber(c) as s:
        s.add_response("filter_log_events", {"events": [ev(1, start + 1), ev(2, start + 2)], "nextToken": "t1"},
                       {"logGroupName": GROUP, "logStreamNamePrefix": "sentiment.", "startTime": start})
        s.add_response("filter_log_events", {"events": [ev(3, start + 3)]},
                       {"logGroupName": GROUP, "logStreamNamePrefix": "sentiment.", "startTime": start, "nextToken": "t1"})
        got = list(logs.cloudwatch_events(c, GROUP, "sentiment", 3600, follow=False, now=lambda: NOW))
        s.assert_no_pending_responses()
    assert [e["eventId"] for e in got] == ["id-1", "id-2", "id-3"]
    assert logs.format_cloudwatch(got[0]).endswith("sentiment-7d4f9-abcde.model hello 1")


def test_follow_polls_from_the_newest_event_and_prints_each_once():
    c = client()
    start = int((NOW - 60) * 1000)
    slept = []
    with Stubber(c) as s:
        s.add_response("filter_log_events", {"events": [ev(1, start + 10)]},
                       {"logGroupName": GROUP, "logStreamNamePrefix": "sentiment.", "startTime": start})
        # the same millisecond again (inclusive start) plus a new event: only the new one is printed
        s.add_response("filter_log_events", {"events": [ev(1, start + 10), ev(2, start + 20)]},
                       {"logGroupName": GROUP, "logStreamNamePrefix": "sentiment.", "startTime": start + 10})
        got = list(logs.cloudwatch_events(c, GROUP, "sentiment", 60, follow=True, now=lambda: NOW,
                                          sleep=slept.append, polls=2))
        s.assert_no_pending_responses()
    assert [e["eventId"] for e in got] == ["id-1", "id-2"]
    assert slept == [logs.POLL_SECONDS]


def test_a_missing_log_group_is_a_clear_error():
    c = client()
    with Stubber(c) as s:
        s.add_client_error("filter_log_events", service_error_code="ResourceNotFoundException",
                           service_message="The specified log group does not exist.", http_status_code=400)
        with pytest.raises(logs.LogsError, match="ResourceNotFoundException: The specified log group does not exist"):
            list(logs.cloudwatch_events(c, GROUP, "sentiment", 60, follow=False, now=lambda: NOW))


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since(text, seconds):
    assert logs.since_seconds(text) == seconds


def test_since_refuses_what_it_cannot_read():
    with pytest.raises(logs.LogsError, match="a duration such as 30s"):
        logs.since_seconds("yesterday")
