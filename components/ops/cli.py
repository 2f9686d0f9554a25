"""`modelstack get` and `modelstack logs`: the subcommands that read what is running (wired into cli.py).

Exit codes: 0 done (also when Prometheus cannot be asked: the status says so), 1 the stack's outputs or the cluster
could not be read, 2 bad input (unknown stack or model, bad flag value).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

COMMANDS = ("get", "logs")


def add_parsers(sub: Any) -> None:
    g = sub.add_parser("get", help="what runs in a deployed stack: replicas, scaling, rollout, traffic, errors, cost now")
    g.add_argument("name", nargs="?", help="a stack (every model) or a model of --stack / the selected stack (its pods, "
                                           "nodes and events too); default: the selected stack")
    g.add_argument("--stack", help="the stack NAME (a model) belongs to (default: the selected Pulumi stack)")
    g.add_argument("--json", action="store_true", help="print JSON for scripts")
    _common(g)
    g.add_argument("--prometheus-url", metavar="URL",
                   help="ask this Prometheus (e.g. a port-forward) instead of the stack's, through the API server")
    lg = sub.add_parser("logs", help="a model's container logs: CloudWatch Logs (default) or the API server")
    lg.add_argument("model")
    lg.add_argument("--stack", help="default: the selected Pulumi stack")
    lg.add_argument("--since", default="1h", help="how far back: 30s, 10m, 2h, 1d (default 1h)")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    lg.add_argument("--source", choices=("cloudwatch", "kubernetes"), default="cloudwatch",
                    help="cloudwatch (the stack's log group; default) or kubernetes (the pods' logs, live pods only)")
    lg.add_argument("--container", action="append", help="only these containers (model, proxy, sidecars)")
    _common(lg)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: found from the current folder)")
    p.add_argument("--kubeconfig", metavar="FILE", help="default: the stack's kubeconfig output, else $KUBECONFIG")
    p.add_argument("--outputs", metavar="FILE", help="the stack's outputs as `pulumi stack output --json --show-secrets` "
                                                     "printed them, instead of running it")


def _selected_stack(project: Path) -> str:
    exe = shutil.which("pulumi")
    if not exe:
        raise _Usage("no --stack given and the Pulumi CLI is not on PATH to find the selected stack")
    p = subprocess.run([exe, "stack", "--show-name", "--non-interactive"], cwd=project, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0 or not p.stdout.strip():
        raise _Usage("no --stack given and no stack is selected (`pulumi stack select`)")
    return p.stdout.strip()


class _Usage(Exception):
    pass


def selected_stack(project: Path) -> str:
    """The selected Pulumi stack of `project` (for commands given no --stack)."""
    return _selected_stack(project)


def run(args: argparse.Namespace, find_project: Callable[[Path], Path], stack_exists: Callable[[Path, str], bool]) -> int:
    from modelstack.ops import outputs as out_mod
    from modelstack.ops.kube import Kube, KubeError, load_kubeconfig
    from modelstack.ops.logs import LogsError

    try:
        project = Path(args.project_dir).resolve() if args.project_dir else find_project(Path.cwd())
        if args.command == "get":
            if args.stack:
                stack, models = args.stack, [args.name] if args.name else None
            elif args.name and stack_exists(project, args.name):
                stack, models = args.name, None
            elif args.name:
                stack, models = _selected_stack(project), [args.name]
            else:
                stack, models = _selected_stack(project), None
        else:
            stack, models = args.stack or _selected_stack(project), [args.model]
        outputs = (out_mod.parse(Path(args.outputs).read_text(), args.outputs) if args.outputs
                   else out_mod.read(stack, project))
        unknown = [m for m in models or [] if m not in outputs["models"]]
        if unknown:
            raise _Usage(f"stack {stack!r} has no model {unknown[0]!r}; its models: {', '.join(sorted(outputs['models']))}")
        if args.command == "logs" and args.source == "cloudwatch":
            return _logs_cloudwatch(args, stack, outputs)
        kube = Kube(load_kubeconfig(None if args.kubeconfig else outputs.get("kubeconfig"), args.kubeconfig))
        if args.command == "logs":
            return _logs_kubernetes(args, kube, outputs)
        return _get(args, stack, outputs, kube, models)
    except (_Usage, LogsError) as e:
        print(f"modelstack {args.command}: {e}", file=sys.stderr)
        return 2
    except (out_mod.OutputsError, KubeError) as e:
        print(f"modelstack {args.command}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"modelstack {args.command}: {e}", file=sys.stderr)
        return 2


def _get(args: argparse.Namespace, stack: str, outputs: dict[str, Any], kube: Any, models: Optional[list[str]]) -> int:
    from modelstack.ops import status
    from modelstack.ops.prom import Prometheus

    obs = outputs.get("observability") or {}
    prom, reason = None, ""
    if args.prometheus_url:
        prom = Prometheus.at(args.prometheus_url)
    elif obs.get("prometheus"):
        p = obs["prometheus"]
        prom = Prometheus.through_api_server(kube, p["namespace"], p["service"], int(p["port"]))
    else:
        reason = "the stack installs no Prometheus (cluster.observability.prometheus: false); give --prometheus-url"
    from modelstack.ops import alb

    st = status.gather(kube, outputs, prom, models, detail=bool(models), prom_reason=reason,
                       latency=alb.reader(kube, outputs.get("region") or "us-east-1"))
    st = {"stack": stack, **st}
    if args.json:
        print(json.dumps(st, indent=2, sort_keys=True))
    elif models:
        print(status.render_model(stack, st))
    else:
        print(status.render_stack(stack, st))
    return 0


def _logs_cloudwatch(args: argparse.Namespace, stack: str, outputs: dict[str, Any]) -> int:
    from modelstack.ops import logs

    group = outputs.get("log_group")
    if not group:
        raise logs.LogsError(f"stack {stack!r} ships no logs to CloudWatch (cluster.logging.enabled: false); "
                             "use --source kubernetes")
    import boto3

    client = boto3.client("logs", region_name=outputs.get("region"))
    for ev in logs.cloudwatch_events(client, group, args.model, logs.since_seconds(args.since), args.follow):
        if args.container and ev.get("logStreamName", "").rsplit(".", 1)[-1] not in args.container:
            continue
        print(logs.format_cloudwatch(ev), flush=True)
    return 0


def _logs_kubernetes(args: argparse.Namespace, kube: Any, outputs: dict[str, Any]) -> int:
    from modelstack.ops import logs

    ns = outputs["models"][args.model]["namespace"]
    for line in logs.kubernetes_lines(kube, ns, args.model, logs.since_seconds(args.since), args.follow, args.container):
        print(line, flush=True)
    return 0
