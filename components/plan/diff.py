"""What a change does, from two offline plans: creates, deletes, in-place updates and replacements, the fields
that change, how each model's Deployment rolls out, and the cost and policy deltas.

Replacement is judged as Pulumi would: a resource whose URN disappears without an alias is deleted and a new
one created; a resource whose URN stays but whose immutable inputs change (a managed node group's instance
types, a Deployment's selector, ...) is replaced. Everything else is an update in place. This reads plan.json
documents only: nothing is sent to the cloud.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .mocks import Recorded
from .urns import aliased

#: Inputs whose change replaces the resource (the provider cannot update them in place).
REPLACE_ON = {
    "aws:eks/nodeGroup:NodeGroup": ("instanceTypes", "capacityType", "amiType", "subnetIds", "nodeGroupName",
                                    "nodeRoleArn", "clusterName", "diskSize", "remoteAccess"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "vpcId"),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/natGateway:NatGateway": ("subnetId", "allocationId"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keySpec"),
    "eks:index:Cluster": ("name", "vpcId", "encryptionConfigKeyArn", "kubernetesServiceIpAddressRange"),
    "kubernetes:apps/v1:Deployment": ("metadata.name", "metadata.namespace", "spec.selector"),
    "kubernetes:core/v1:Service": ("metadata.name", "metadata.namespace", "spec.clusterIP"),
    "kubernetes:policy/v1:PodDisruptionBudget": ("metadata.name", "metadata.namespace"),
}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted path (lists by index), so two resources compare field by field."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


@dataclass
class Change:
    action: str  # create, delete, update, replace, rename
    urn: str
    type: str
    name: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    why: str = ""
    rollout: str = ""

    def to_json(self) -> dict:
        return {"action": self.action, "urn": self.urn, "type": self.type, "name": self.name, "why": self.why,
                "rollout": self.rollout, "fields": [{"path": p, "old": o, "new": n} for p, o, n in self.fields]}


class PlanReadError(ValueError):
    """A plan.json that cannot be compared: its path and what is wrong or missing."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


@dataclass
class PlanDiff:
    stack: str
    changes: list[Change]
    cost: dict[str, Any]
    new_violations: list[dict]
    resolved_violations: list[dict]
    old_stack: str = ""
    """The old plan's stack; differs from `stack` when two stacks' plans were compared."""

    @property
    def same_stack(self) -> bool:
        return self.old_stack in ("", self.stack)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def to_json(self) -> dict:
        return {"stack": self.stack, "old_stack": self.old_stack or self.stack, "same_stack": self.same_stack,
                "changes": [c.to_json() for c in self.changes], "cost": self.cost,
                "policy": {"new": self.new_violations, "resolved": self.resolved_violations}}


def _replaced_by(typ: str, fields: Iterable[tuple[str, Any, Any]]) -> list[str]:
    keys = REPLACE_ON.get(typ, ())
    return sorted({p for p, _, _ in fields for k in keys if p == k or p.startswith(k + ".") or p.startswith(k + "[")})


def rollout(old: dict, new: dict) -> str:
    """How a Deployment change reaches running pods, and whether requests can be dropped on the way."""
    spec = new.get("spec") or {}
    if flatten((old.get("spec") or {}).get("template")) == flatten(spec.get("template")):
        return "no pod change: nothing restarts"
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return f"{strategy.get('type')}: every pod stops before new ones start; requests are dropped"
    ru = strategy.get("rollingUpdate") or {}
    surge, unavailable = ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    gated = all(c.get("readinessProbe") for c in containers) and containers
    drains = all(((c.get("lifecycle") or {}).get("preStop")) for c in containers[:1]) and containers
    text = f"rolling update, maxSurge {surge}, maxUnavailable {unavailable}"
    if not gated:
        return text + "; no readiness probe: new pods get traffic before they are ready, requests can fail"
    text += ", readiness-gated"
    text += ", old pods drain on a preStop hook" if drains else ", no preStop hook: in-flight requests can be cut"
    if str(unavailable) in ("0", "0%"):
        text += "; capacity never drops below the ready count"
    else:
        text += f"; up to {unavailable} of replicas may be unavailable during the rollout"
    return text


def diff(old: dict, new: dict) -> PlanDiff:
    """Compare two plan.json documents of the same stack."""
    old_r = {r["urn"]: r for r in old["resources"]}
    new_r = {r["urn"]: r for r in new["resources"]}
    records = [Recorded(urn=r["urn"], type=r["type"], name=r["name"], parent=r.get("parent"), inputs={}, outputs={},
                        custom=True, remote=False, aliases=list(r.get("aliases") or [])) for r in new["resources"]]
    claimed = aliased(records)
    changes: list[Change] = []
    for urn in sorted(set(old_r) | set(new_r)):
        o, n = old_r.get(urn), new_r.get(urn)
        if o is None:
            changes.append(Change("create", urn, n["type"], n["name"]))
            continue
        if n is None:
            action = "rename" if urn in claimed else "delete"
            why = "an alias on the new resource keeps it" if action == "rename" else "URN gone without an alias"
            changes.append(Change(action, urn, o["type"], o["name"], why=why))
            continue
        fo, fn = flatten(o.get("inputs") or {}), flatten(n.get("inputs") or {})
        fields = [(p, fo.get(p), fn.get(p)) for p in sorted(set(fo) | set(fn)) if fo.get(p) != fn.get(p)]
        if not fields:
            continue
        forced = _replaced_by(n["type"], fields)
        c = Change("replace" if forced else "update", urn, n["type"], n["name"], fields,
                   why=("changes " + ", ".join(forced) + ", which cannot be updated in place") if forced else "")
        if n["type"] == "kubernetes:apps/v1:Deployment" and not forced:
            c.rollout = rollout(o["inputs"], n["inputs"])
        changes.append(c)
    oc, nc = old.get("cost") or {}, new.get("cost") or {}
    cost = {k: {"old": (oc.get(k) or {}), "new": (nc.get(k) or {})} for k in ("usd_per_hour", "usd_per_month")}
    for c in cost.values():
        c["delta_usd"] = {b: round(float(c["new"][b]) - float(c["old"][b]), 6) for b in ("min", "max")
                          if isinstance(c["old"].get(b), (int, float)) and isinstance(c["new"].get(b), (int, float))}

    def key(v: dict) -> tuple:
        return v.get("policy"), v.get("resource"), v.get("message")

    ov = {key(v): v for v in (old.get("policy") or {}).get("violations", [])}
    nv = {key(v): v for v in (new.get("policy") or {}).get("violations", [])}
    return PlanDiff(stack=new.get("stack", ""), changes=changes, cost=cost,
                    new_violations=[v for k, v in nv.items() if k not in ov],
                    resolved_violations=[v for k, v in ov.items() if k not in nv], old_stack=old.get("stack", ""))


def _signed_usd(usd: float, unit: str, places: int) -> str:
    """`+$63.66/month`, `-$0.0872/h`: a cost delta as a reviewer reads it."""
    return f"{'-' if usd < 0 else '+'}${abs(usd):,.{places}f}/{unit}"


def _short(v: Any, width: int = 60) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= width else text[: width - 3] + "..."


def render(d: PlanDiff, max_fields: int = 12) -> str:
    symbols = {"create": "+", "delete": "-", "update": "~", "replace": "+-", "rename": "~>"}
    head = (f"OFFLINE PLAN DIFF of stack {d.stack}: {d.count('create')} to create, {d.count('update')} to update, "
            f"{d.count('replace')} to replace, {d.count('delete')} to delete, {d.count('rename')} renamed by alias")
    lines = [head]
    if not d.same_stack:
        lines.insert(0, f"DIFFERENT STACKS: the old plan is of stack {d.old_stack}, the new one of stack {d.stack}; "
                        "their resources have different URNs, so every resource shows as deleted and created. "
                        "Compare two plans of one stack to see what a change does.")
    for c in d.changes:
        lines.append(f"{symbols[c.action]:>2} {c.type} {c.name}" + (f"  ({c.why})" if c.why else ""))
        for p, o, n in c.fields[:max_fields]:
            lines.append(f"      {p}: {_short(o)} -> {_short(n)}")
        if len(c.fields) > max_fields:
            lines.append(f"      ... {len(c.fields) - max_fields} more field(s)")
        if c.rollout:
            lines.append(f"      rollout: {c.rollout}")
    for k, unit, short, places in (("usd_per_hour", "per hour", "h", 4), ("usd_per_month", "per month", "month", 2)):
        o, n, delta = d.cost[k]["old"], d.cost[k]["new"], d.cost[k].get("delta_usd") or {}
        if o and n and o != n:
            lines.append(f"cost {unit}: " + ", ".join(
                f"{b} ${o.get(b):,.{places}f} -> ${n.get(b):,.{places}f} ({_signed_usd(delta[b], short, places)})"
                if b in delta else f"{b} {o.get(b)} -> {n.get(b)}" for b in ("min", "max")))
    for v in d.new_violations:
        lines.append(f"new policy violation [{v.get('level')}] {v.get('policy')}: {v.get('message')}")
    for v in d.resolved_violations:
        lines.append(f"resolved policy violation {v.get('policy')}: {v.get('message')}")
    return "\n".join(lines)


#: What `diff` reads from a plan.json: keys of the document, and keys of each resource.
PLAN_KEYS = ("stack", "resources")
RESOURCE_KEYS = ("urn", "type", "name")


def load(path: str) -> dict:
    """A plan.json written by `modelstack plan --json/--out`; PlanReadError naming the path and what is missing."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise PlanReadError(path, f"cannot be read ({e.strerror or e})") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PlanReadError(path, f"is not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise PlanReadError(path, f"is not a plan.json: a JSON {type(doc).__name__} instead of an object")
    missing = [k for k in PLAN_KEYS if k not in doc]
    if missing:
        raise PlanReadError(path, "is not a plan.json of `modelstack plan`: no " + " and no ".join(repr(k) for k in missing))
    if not isinstance(doc["resources"], list):
        raise PlanReadError(path, "'resources' is not a list")
    for i, r in enumerate(doc["resources"]):
        lacks = [k for k in RESOURCE_KEYS if not isinstance(r, dict) or k not in r]
        if lacks:
            raise PlanReadError(path, f"resources[{i}] has no " + ", ".join(repr(k) for k in lacks))
    return doc


def summarize(old_path: str, new_path: str, out: Optional[str] = None) -> PlanDiff:
    d = diff(load(old_path), load(new_path))
    if out:
        with open(out, "w") as f:
            json.dump(d.to_json(), f, indent=2)
    return d
