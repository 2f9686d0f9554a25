"""`modelstack logs MODEL`: a model's container logs from CloudWatch Logs (where the stack ships them) or the API
server (`--source kubernetes`).

CloudWatch: the stack's `log_group` output (ClusterLogging: `/aws/eks/<cluster>/models` unless configured), streams
`<model>.<pod>.<container>` (render/logging.py STREAM_TEMPLATE), so one model is one stream-name prefix `<model>.`.
FilterLogEvents (CloudWatch Logs API: `logGroupName`, `logStreamNamePrefix`, `startTime` in ms, `nextToken`;
answers `events[]` with `logStreamName`, `timestamp`, `message`, `eventId`, and `nextToken` while more pages exist).
`--follow` polls it every few seconds from the last event seen, skipping event ids already printed.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Iterator, Optional

from modelstack.ops.kube import Kube, KubeError
from modelstack.render import labels

POLL_SECONDS = 5.0
DURATION_RE = re.compile(r"^(\d+)(s|m|h|d)$")


class LogsError(Exception):
    pass


def since_seconds(text: str) -> int:
    """`30s`, `10m`, `2h`, `1d` as seconds (LogsError otherwise)."""
    m = DURATION_RE.match(text.strip())
    if not m:
        raise LogsError(f"--since {text!r}: a duration such as 30s, 10m, 2h or 1d")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def stream_prefix(model: str) -> str:
    return f"{model}."


def cloudwatch_events(logs_client: Any, group: str, model: str, since: int, follow: bool,
                      now: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                      polls: Optional[int] = None) -> Iterator[dict[str, Any]]:
    """The model's log events since `since` seconds ago, oldest first; with `follow`, then new ones as they arrive
    (`polls` bounds the polling, for tests). Errors from AWS surface as LogsError."""
    from botocore.exceptions import BotoCoreError, ClientError

    start_ms = int((now() - since) * 1000)
    seen: set[str] = set()
    done = 0
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamNamePrefix": stream_prefix(model),
                                  "startTime": start_ms}
        newest = start_ms
        while True:
            try:
                page = logs_client.filter_log_events(**kwargs)
            except ClientError as e:
                err = e.response.get("Error", {})
                raise LogsError(f"CloudWatch Logs {group}: {err.get('Code')}: {err.get('Message')}") from None
            except BotoCoreError as e:
                raise LogsError(f"CloudWatch Logs {group}: {e}") from None
            for ev in page.get("events") or []:
                if ev.get("eventId") in seen:
                    continue
                seen.add(ev.get("eventId"))
                newest = max(newest, ev.get("timestamp", 0))
                yield ev
            token = page.get("nextToken")
            if not token:
                break
            kwargs["nextToken"] = token
        done += 1
        if not follow or (polls is not None and done >= polls):
            return
        # From the newest event seen (inclusive: events of the same millisecond may arrive late; ids dedupe).
        start_ms = max(start_ms, newest)
        sleep(POLL_SECONDS)


def format_cloudwatch(ev: dict[str, Any]) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ev.get("timestamp", 0) / 1000))
    stream = ev.get("logStreamName", "")
    parts = stream.split(".")
    where = ".".join(parts[1:]) if len(parts) >= 3 else stream  # <pod>.<container>
    return f"{ts}Z {where} {ev.get('message', '').rstrip()}"


def kubernetes_lines(kube: Kube, namespace: str, model: str, since: Optional[int], follow: bool,
                     containers: Optional[list[str]] = None, tail: Optional[int] = None) -> Iterator[str]:
    """Every container's log of the model's pods from the API server, each line prefixed `<pod>/<container>`.
    With `follow`, every container is followed at once (one reader thread each) until its pod ends."""
    pods = kube.pods(namespace, labels.MODEL_LABEL, model)
    if not pods:
        raise LogsError(f"model {model!r}: no pods in namespace {namespace} (scaled to zero, or not deployed)")
    targets = [(p["metadata"]["name"], c["name"]) for p in pods for c in p["spec"].get("containers") or []
               if not containers or c["name"] in containers]
    if not follow:
        for pod, c in targets:
            for line in kube.pod_log(namespace, pod, c, since, False, tail):
                yield f"{pod}/{c} {line}"
        return
    import queue

    q: "queue.Queue[Optional[str]]" = queue.Queue()

    def read(pod: str, c: str) -> None:
        try:
            for line in kube.pod_log(namespace, pod, c, since, True, tail):
                q.put(f"{pod}/{c} {line}")
        except KubeError as e:
            q.put(f"{pod}/{c} [modelstack: {e}]")
        finally:
            q.put(None)

    threads = [threading.Thread(target=read, args=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    open_readers = len(threads)
    while open_readers:
        item = q.get()
        if item is None:
            open_readers -= 1
        else:
            yield item
