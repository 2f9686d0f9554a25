"""The stack outputs `modelstack get` and `modelstack logs` read: what the program exports, and how they are read back
(`pulumi stack output --json --show-secrets`, run in the project like any Pulumi command, so the user's backend,
login and passphrase apply).

Exported by the stack program (program.py):
- `models`: {model: {namespace, deployment, service, endpoint}}
- `observability`: {prometheus: {namespace, service, port} | null, grafana: "<ns>/<service>:<port>" | null}
- `region`, `cluster_name`, `kubeconfig` (secret), `log_group` (when logging is on)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping, Optional

from modelstack.render import addon_values
from modelstack.render.charts import CHARTS

PULUMI_TIMEOUT_S = 120


class OutputsError(Exception):
    """The stack's outputs could not be read; the message says why and what to do."""


def models_output(models: Mapping[str, Any]) -> dict[str, Any]:
    """The `models` export from ModelAPI components (their output attributes)."""
    return {n: {"namespace": api.namespace, "deployment": api.deployment_name, "service": api.service_name,
                "endpoint": api.endpoint} for n, api in models.items()}


def observability_output(prometheus_address: Optional[str], grafana_service: Any) -> dict[str, Any]:
    """The `observability` export: where the in-cluster Prometheus (through the API server's service proxy) and
    Grafana are."""
    prom = None
    if prometheus_address:
        prom = {"namespace": CHARTS["prometheus"].namespace, "service": addon_values.PROMETHEUS_SERVER,
                "port": addon_values.PROMETHEUS_PORT}
    return {"prometheus": prom, "grafana": grafana_service}


def read(stack: str, project: Path, pulumi: Optional[str] = None) -> dict[str, Any]:
    """The stack's outputs, secrets shown (the kubeconfig is one)."""
    exe = pulumi or shutil.which("pulumi")
    if not exe:
        raise OutputsError("the Pulumi CLI is not on PATH (needed to read the stack's outputs); "
                           "or give --outputs FILE with `pulumi stack output --json --show-secrets`'s output")
    cmd = [exe, "stack", "output", "--json", "--show-secrets", "--stack", stack, "--non-interactive"]
    try:
        p = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=PULUMI_TIMEOUT_S,
                           env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    except subprocess.TimeoutExpired:
        raise OutputsError(f"`pulumi stack output` did not answer in {PULUMI_TIMEOUT_S} s") from None
    if p.returncode != 0:
        raise OutputsError(f"`pulumi stack output --stack {stack}` failed: {(p.stderr or p.stdout).strip()[-600:]}")
    return parse(p.stdout, f"stack {stack!r}")


def parse(text: str, where: str) -> dict[str, Any]:
    try:
        out = json.loads(text)
    except ValueError as e:
        raise OutputsError(f"{where}: outputs are not JSON ({e})") from None
    if not isinstance(out, dict):
        raise OutputsError(f"{where}: outputs are not a JSON object")
    if not isinstance(out.get("models"), dict):
        raise OutputsError(f"{where}: no `models` output: deploy this version of modelstack first "
                           "(`pulumi up`), it exports what `modelstack get` reads")
    return out
