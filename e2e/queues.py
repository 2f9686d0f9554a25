"""The async and batch data plane for real, on loopback: the pinned Redpanda Connect binary (e2e/build.sh connect)
runs the gateway and queue-consumer configs render/queue.py renders, against moto's server mode (SQS and S3), with a
small model server. Checks: every config passes the binary's own `lint`; 200 async requests submitted through the
gateway, 200 results retrieved through it; a poison request is retried, marked failed and lands in the DLQ after
max_receives; a batch job of 1,000 items completes with the right counts (through modelstack.ops.batch, the code
`modelstack batch submit|status` runs). Prints the figures and writes out/e2e/queues.json; exits 1 when one fails.

Usage: .venv/bin/python e2e/queues.py [--connect PATH]   (default: build or reuse it with e2e/build.sh connect)
Everything it starts listens on 127.0.0.1 and is stopped on exit, also on failure; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import boto3

from modelstack.ops import batch
from modelstack.render import queue

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "e2e"
REGION = "us-east-1"
ASYNC_REQUESTS = 200
BATCH_ITEMS = 1000
BATCH_SIZE = 50
MAX_RECEIVES = 3
CONSUMERS = 2
DEADLINE_SECONDS = 180
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Model(BaseHTTPRequestHandler):
    """The model server: POST a JSON object -> {"echo": it, "length": n}; a JSON list (a batch) -> one result per
    item; {"poison": true} -> 500 (every time)."""

    calls = 0
    poison_calls = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
        with Model.lock:
            Model.calls += 1
            if isinstance(body, dict) and body.get("poison"):
                Model.poison_calls += 1
        if isinstance(body, dict) and body.get("poison"):
            self._send(500, {"error": "poison"})
        elif isinstance(body, list):
            self._send(200, [{"item": x, "score": len(json.dumps(x))} for x in body])
        else:
            self._send(200, {"echo": body, "length": len(json.dumps(body))})

    def _send(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: Any) -> None:
        pass


def wait_for(what: str, check: Callable[[], Any], seconds: float, every: float = 0.2) -> Any:
    end = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 (retry until the deadline, then report the last error)
            last = e
        time.sleep(every)
    raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what} (last: {last!r})")


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def start_moto(log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """moto's server mode on a free loopback port (SQS and S3), answering within 30 s; the caller stops it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for("moto", lambda: http("GET", f"{endpoint}/moto-api/data.json")[0] == 200, 30)
    except RuntimeError:
        proc.kill()
        raise
    return proc, endpoint


def client_args(endpoint: str) -> dict[str, str]:
    """boto3 client arguments for moto at `endpoint`: its region and the test credentials."""
    return {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


def connect_binary(given: str | None) -> str:
    if given:
        return given
    subprocess.run(["nice", "-n", "10", str(ROOT / "e2e" / "build.sh"), "connect"], check=True, timeout=3600)
    env = dict(line.split("=", 1) for line in (OUT / "tools.env").read_text().splitlines() if "=" in line)
    return env["CONNECT"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", help="the redpanda-connect binary (default: e2e/build.sh connect)")
    args = ap.parse_args()
    binary = connect_binary(args.connect)
    OUT.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    env = {**os.environ, **CREDENTIALS}
    work = Path(tempfile.mkdtemp(prefix="modelstack-queues-"))
    model_server = ThreadingHTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    figures: dict[str, Any] = {"connect": binary.rsplit("/", 2)[-2], "max_receives": MAX_RECEIVES}
    failures: list[str] = []
    try:
        proc, endpoint = start_moto(work / "moto.log", env)
        procs.append(proc)
        s3, sqs = boto3.client("s3", **client_args(endpoint)), boto3.client("sqs", **client_args(endpoint))

        def make_queue(name: str) -> tuple[str, str]:
            dlq = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            url = sqs.create_queue(QueueName=name, Attributes={
                "SqsManagedSseEnabled": "true", "VisibilityTimeout": str(queue.MESSAGE_TIMEOUT_SECONDS),
                "RedrivePolicy": queue.redrive_policy(dlq_arn, MAX_RECEIVES)})["QueueUrl"]
            return url, dlq

        aws = queue.Endpoints(REGION, endpoint)
        model_url = f"http://127.0.0.1:{model_server.server_address[1]}/"
        configs: dict[str, dict] = {}
        queues: dict[str, tuple[str, str]] = {}
        for kind in queue.KINDS:
            bucket = f"e2e-{kind}"
            s3.create_bucket(Bucket=bucket)
            queues[kind] = make_queue(f"e2e-{kind}")
            configs[f"{kind}-consumer"] = queue.consumer_config(
                queue_url=queues[kind][0], bucket=bucket, aws=aws, model_url=model_url, max_receives=MAX_RECEIVES,
                request_timeout_seconds=30)
        gw_port = free_port()
        configs["gateway"] = queue.gateway_config(queue_url=queues["async"][0], bucket="e2e-async", aws=aws,
                                                  port=gw_port)
        for name, c in configs.items():
            # The probe server of each process on a port of its own (4195 in pods, one process per container).
            c["http"]["address"] = f"127.0.0.1:{free_port()}"
            (work / f"{name}.yaml").write_text(queue.to_yaml(c))
        lint = subprocess.run([binary, "lint", *[str(work / f"{n}.yaml") for n in configs]], capture_output=True,
                              text=True, timeout=60)
        figures["lint"] = "clean" if lint.returncode == 0 else (lint.stdout + lint.stderr).strip()
        if lint.returncode != 0:
            raise RuntimeError(f"redpanda-connect lint: {figures['lint']}")

        def start(name: str, copy: int = 0) -> None:
            log = (work / f"{name}-{copy}.log").open("w")
            procs.append(subprocess.Popen([binary, "run", str(work / f"{name}.yaml")], env=env, stdout=log,
                                          stderr=subprocess.STDOUT))

        start("gateway")
        for i in range(CONSUMERS):
            start("async-consumer", i)
            start("batch-consumer", i)
        gw = f"http://127.0.0.1:{gw_port}/e2e-async"
        wait_for("the gateway", lambda: http("GET", f"{gw}/00000000-0000-0000-0000-000000000000")[0] == 404, 30)

        # Async: 200 requests and a poison one.
        t0 = time.monotonic()
        ids = []
        for i in range(ASYNC_REQUESTS):
            code, body = http("POST", gw, {"text": f"request {i}"})
            if code != 202 or body.get("status") != "in_queue":
                raise RuntimeError(f"POST {i}: {code} {body}")
            ids.append((i, body["id"]))
        _, poison = http("POST", gw, {"poison": True})
        figures["async_submitted"] = len(ids)
        results: dict[str, Any] = {}

        def all_done() -> bool:
            for i, rid in ids:
                if rid in results:
                    continue
                code, body = http("GET", f"{gw}/{rid}")
                if code == 200 and body.get("status") == "completed":
                    if body.get("result") != {"echo": {"text": f"request {i}"}, "length": len(json.dumps({"text": f"request {i}"}))}:
                        raise RuntimeError(f"request {i}: wrong result {body.get('result')!r}")
                    results[rid] = body["result"]
            return len(results) == len(ids)

        wait_for(f"{ASYNC_REQUESTS} async results", all_done, DEADLINE_SECONDS, every=0.5)
        figures["async_retrieved"] = len(results)
        figures["async_seconds"] = round(time.monotonic() - t0, 1)

        def poison_dead() -> bool:
            attrs = sqs.get_queue_attributes(QueueUrl=queues["async"][1], AttributeNames=["ApproximateNumberOfMessages"])
            return int(attrs["Attributes"]["ApproximateNumberOfMessages"]) == 1
        # SQS moves a message on the receive after its last allowed one; the consumers keep polling.
        wait_for("the poison request in the DLQ", poison_dead, 60)
        code, pbody = http("GET", f"{gw}/{poison['id']}")
        figures["poison"] = {"status": pbody.get("status"), "model_calls": Model.poison_calls, "dlq_messages": 1}
        if pbody.get("status") != "failed":
            failures.append(f"poison request status {pbody.get('status')!r}, expected failed")
        if Model.poison_calls != MAX_RECEIVES:
            failures.append(f"poison request reached the model {Model.poison_calls} times, expected {MAX_RECEIVES}")

        # Batch: 1,000 items in batches of 50, through the same code as `modelstack batch submit|status`.
        t0 = time.monotonic()
        items = [{"n": i} for i in range(BATCH_ITEMS)]
        job = batch.submit(s3, sqs, bucket="e2e-batch", queue_url=queues["batch"][0], items=items,
                           batch_size=BATCH_SIZE)
        st = wait_for(f"batch job {job}", lambda: (lambda s: s if s.status != "in_progress" else None)(
            batch.status(s3, bucket="e2e-batch", job=job)), DEADLINE_SECONDS, every=0.5)
        scored = sum(len(json.loads(s3.get_object(Bucket="e2e-batch", Key=f"jobs/{job}/{n}/result")["Body"].read()))
                     for n in range(st.batches_total))
        figures["batch"] = {**st.to_dict(), "results_items": scored, "seconds": round(time.monotonic() - t0, 1)}
        if not (st.status == "completed" and st.items_done == BATCH_ITEMS == scored and st.items_failed == 0
                and st.batches_total == BATCH_ITEMS // BATCH_SIZE):
            failures.append(f"batch job: {st.to_dict()}, {scored} items in results")
        if figures["async_retrieved"] != ASYNC_REQUESTS:
            failures.append(f"{figures['async_retrieved']} of {ASYNC_REQUESTS} async results")
    except Exception as e:  # noqa: BLE001 (report, stop everything, exit 1)
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        model_server.shutdown()
    figures["failures"] = failures
    (OUT / "queues.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if failures:
        print(f"logs: {work}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
