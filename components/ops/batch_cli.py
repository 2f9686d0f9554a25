"""`modelstack batch submit|status`: batch jobs against a deployed BatchModelAPI (wired into cli.py).

The stack's `queues` output names each batch model's queue and bucket; `--outputs FILE` reads them from
`pulumi stack output --json` instead. Exit codes: 0 done, 1 AWS or the stack's outputs could not be read,
2 bad input (unknown model, a model that is not of kind batch, unreadable items).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

COMMAND = "batch"


def add_parsers(sub: Any) -> None:
    b = sub.add_parser("batch", help="batch jobs of a model of kind batch: submit a list of items, read a job's counts")
    bs = b.add_subparsers(dest="batch_command", required=True)
    s = bs.add_parser("submit", help="split ITEMS into batches, store and queue them; prints the job id")
    s.add_argument("model")
    s.add_argument("items", help="a JSON file: a list of items, or one item per line (JSON lines); - for stdin")
    s.add_argument("--batch-size", type=int, default=100, help="items per batch (one message, one model call; "
                                                               "default 100)")
    s.add_argument("--job", help="job id (default: a new UUID)")
    st = bs.add_parser("status", help="a job's items total, done and failed")
    st.add_argument("model")
    st.add_argument("job")
    for p in (s, st):
        p.add_argument("--stack", help="default: the selected Pulumi stack")
        p.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: found from here)")
        p.add_argument("--outputs", metavar="FILE", help="the stack's outputs as `pulumi stack output --json` "
                                                        "printed them, instead of running it")
        p.add_argument("--endpoint-url", metavar="URL", help="an AWS-compatible endpoint (tests: moto)")


class _Usage(Exception):
    pass


def read_items(path: str) -> list[Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        data = json.loads(text)
        if isinstance(data, list):
            return data
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as e:
        raise _Usage(f"{path}: neither a JSON list nor JSON lines ({e})") from None


def target(outputs: dict[str, Any], model: str, stack: str) -> dict[str, Any]:
    queues: dict[str, dict[str, Any]] = outputs.get("queues") or {}  # the stack's output (program.py)
    if model not in queues:
        raise _Usage(f"stack {stack!r} has no queue-backed model {model!r}; its batch models: "
                     f"{', '.join(sorted(n for n, q in queues.items() if q.get('kind') == 'batch')) or 'none'}")
    if queues[model].get("kind") != "batch":
        raise _Usage(f"model {model!r} is of kind {queues[model].get('kind')}; batch jobs need kind batch")
    return queues[model]


def run(args: argparse.Namespace, find_project: Callable[[Path], Path], selected_stack: Callable[[Path], str]) -> int:
    from modelstack.ops import batch
    from modelstack.ops import outputs as out_mod

    where = f"modelstack batch {args.batch_command}"
    try:
        items = read_items(args.items) if args.batch_command == "submit" else None
        if items is not None and not items:
            raise _Usage(f"{args.items}: no items")
        if args.batch_command == "submit" and args.batch_size < 1:
            raise _Usage(f"--batch-size {args.batch_size}: at least 1")
        if args.outputs:
            outputs, stack = json.loads(Path(args.outputs).read_text()), args.stack or "(outputs file)"
        else:
            project = Path(args.project_dir).resolve() if args.project_dir else find_project(Path.cwd())
            try:
                stack = args.stack or selected_stack(project)
            except Exception as e:  # the Pulumi CLI is missing or no stack is selected
                raise _Usage(str(e)) from None
            outputs = out_mod.read(stack, project)
        q = target(outputs, args.model, stack)
        import boto3
        kw = {"region_name": outputs.get("region"), **({"endpoint_url": args.endpoint_url} if args.endpoint_url else {})}
        s3 = boto3.client("s3", **kw)
        if args.batch_command == "submit":
            job = batch.submit(s3, boto3.client("sqs", **kw), bucket=q["bucket"], queue_url=q["queue_url"],
                               items=items or [], batch_size=args.batch_size, job=args.job)
            print(job)
            return 0
        print(json.dumps(batch.status(s3, bucket=q["bucket"], job=args.job).to_dict(), indent=2))
        return 0
    except (_Usage, ValueError, OSError) as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 2
    except out_mod.OutputsError as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # botocore's ClientError, NoCredentialsError, EndpointConnectionError
        if type(e).__module__.startswith("botocore"):
            print(f"{where}: AWS: {e}", file=sys.stderr)
            return 1
        raise
