"""Recorded capacity choices: the instance types the planner chose for each node group, kept in a committed
file per stack (`<stackConfigDir>/capacity/<stack>.yaml`) that plans and `pulumi up` follow.

Routine changes (replicas, models added or removed, images, autoscaling) keep every recorded choice that still
serves its group's models; a choice is re-made only when it can no longer serve (the plan says which model and
why) or when the user asks (`modelstack capacity rechoose`). Groups whose `instance_types` the stack config
pins are not recorded: the config is their record. Pure module: text in, text out; the CLI and the stack
program read and write the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

FOLDER = "capacity"


class RecordError(ValueError):
    """A capacity file that cannot be followed: its path and what is wrong."""


@dataclass(frozen=True)
class RecordedGroup:
    capacity_type: str
    instance_types: tuple[str, ...]


@dataclass(frozen=True)
class Recorded:
    stack: str
    groups: dict[str, RecordedGroup] = field(default_factory=dict)
    recorded_on: Optional[str] = None
    path: str = ""

    def get(self, name: str) -> Optional[RecordedGroup]:
        return self.groups.get(name)


def path_for(stack_dir: Path, stack: str) -> Path:
    """Where stack `stack`'s choices live, beside its stack file."""
    return stack_dir / FOLDER / f"{stack}.yaml"


def shown(path: Path, project: Optional[Path]) -> str:
    """`path` as messages and plan.json name it: relative to the project when inside it."""
    try:
        return path.resolve().relative_to(project.resolve()).as_posix() if project else str(path)
    except ValueError:
        return str(path)


def read(stack_dir: Path, stack: str, project: Optional[Path] = None) -> Optional[Recorded]:
    """The recorded choices beside a stack file, None when there are none; RecordError when unreadable."""
    path = path_for(stack_dir, stack)
    if not path.is_file():
        return None
    try:
        text = path.read_text()
    except OSError as e:
        raise RecordError(f"{shown(path, project)}: cannot be read ({e.strerror or e})") from None
    return parse(text, stack, shown(path, project))


def parse(text: str, stack: str, path: str) -> Recorded:
    """The recorded choices of `stack`; RecordError naming the file and the key when they cannot be read."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RecordError(f"{path}: not YAML ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("node_groups", {}), dict):
        raise RecordError(f"{path}: expected a mapping with node_groups: {{<group>: {{capacity_type, instance_types}}}}")
    if doc.get("stack", stack) != stack:
        raise RecordError(f"{path}: records stack {doc.get('stack')!r}, not {stack!r}")
    groups = {}
    for name, g in (doc.get("node_groups") or {}).items():
        types = g.get("instance_types") if isinstance(g, dict) else None
        cap = g.get("capacity_type") if isinstance(g, dict) else None
        if not (isinstance(types, list) and types and all(isinstance(t, str) for t in types)) or cap not in ("SPOT", "ON_DEMAND"):
            raise RecordError(f"{path}: node_groups.{name}: expected capacity_type SPOT or ON_DEMAND and a non-empty "
                              f"list of instance_types, got {g!r}")
        groups[str(name)] = RecordedGroup(cap, tuple(types))
    return Recorded(stack, groups, str(doc.get("recorded_on") or "") or None, path)


def render(stack: str, groups: Mapping[str, RecordedGroup], today: date, version: str) -> str:
    head = (f"# Capacity choices of stack {stack}, written by `modelstack capacity record {stack}` (modelstack {version}).\n"
            "# Plans and `pulumi up` keep these instance types while they serve the models placed on them, so routine\n"
            "# changes replace no node group. Re-choose with `modelstack capacity rechoose " + stack + " [--group G]`;\n"
            "# the plan shows what re-choosing would save and what it would replace. Commit this file.\n")
    body: dict[str, Any] = {"stack": stack, "recorded_on": today.isoformat(), "node_groups": {
        n: {"capacity_type": g.capacity_type, "instance_types": list(g.instance_types)} for n, g in sorted(groups.items())}}
    return head + yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=120)
