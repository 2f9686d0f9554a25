"""Stable identities: which URNs a change removes without an alias (and so would make `pulumi up` replace).

A resource's URN is its identity. A change that renames a resource or moves it to another parent changes the
URN; unless the new resource lists the old URN as an alias, Pulumi deletes the old resource and creates a new
one: a new EKS cluster, a new node group, a dropped model API.
"""

from __future__ import annotations

from typing import Iterable, Optional

from .mocks import Recorded, urn_of


def _urn_like(parent_urn: str, typ: str, name: str) -> str:
    """The URN a child of `parent_urn` gets (same stack and project)."""
    stack, project = parent_urn.split("::")[0].rsplit(":", 1)[1], parent_urn.split("::")[1]
    return urn_of(parent_urn, typ, name, stack, project)


def _alias_urns(r: Recorded) -> set[str]:
    out = set()
    for a in r.aliases:
        if a.startswith("urn:"):
            out.add(a)
        elif a.startswith("alias:"):
            spec = dict(kv.split("=", 1) for kv in a[len("alias:"):].split(",") if "=" in kv)
            parent = spec.get("parent") or r.parent
            if parent:
                out.add(_urn_like(parent, spec.get("type", r.type), spec.get("name", r.name)))
    return out


def aliased(resources: Iterable[Recorded]) -> set[str]:
    """Every old URN the current resources claim, directly or through an aliased parent (children keep names)."""
    resources = list(resources)
    direct = {r.urn: _alias_urns(r) for r in resources}
    covered = set().union(*direct.values()) if direct else set()
    for r in resources:
        for parent_alias in direct.get(r.parent or "", ()):
            covered.add(_urn_like(parent_alias, r.type, r.name))
    return covered


def unaliased_removals(previous: Iterable[str], resources: Iterable[Recorded], ignore: Optional[set[str]] = None) -> list[str]:
    """URNs in `previous` that no current resource has and no alias claims: each would be replaced or deleted."""
    resources = list(resources)
    current = {r.urn for r in resources}
    covered = aliased(resources)
    return sorted(u for u in previous if u not in current and u not in covered and u not in (ignore or set()))
