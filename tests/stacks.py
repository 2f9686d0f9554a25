"""The shipped stack files, for tests: whichever `stacks/Pulumi.<env>.yaml` are present."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STACKS = tuple(sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))


def stack_values(env: str = "dev") -> dict:
    """The `config:` mapping of stacks/Pulumi.<env>.yaml."""
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
