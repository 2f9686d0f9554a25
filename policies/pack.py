"""The CrossGuard side: each registered rule wrapped as a pulumi_policy policy.

Importing this module builds policy objects only; the gRPC server starts when ``PolicyPack`` is
constructed, which happens in ``__main__.py`` alone.
"""

from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel, Policy, PolicyConfigSchema, ReportViolation, ResourceValidationArgs,
    ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
)

from .engine import config_problems, rules
from .rule import Context, Resource, Rule, plain

PACK_NAME = "modelstack"


def _context(r: Rule, config: Mapping[str, Any] | None, urn: str = "", name: str = "") -> Context:
    config = plain(config or {})
    env = config.get("environment")
    return Context(env if isinstance(env, str) and env else None, r.params_from(config), urn=urn, name=name)


def config_violations(r: Rule, config: Mapping[str, Any] | None) -> list[str]:
    """A policy's own config problems as violation messages (key, value, what is allowed), the same checks as
    `modelstack plan`'s; the rule does not run on a config it cannot read. Pulumi checks types against each
    policy's schema before the pack runs; settings the schema does not list (a typo) reach the pack and are
    caught here."""
    problems = config_problems({r.id: plain(config or {})})
    return [f"policy config (the --policy-pack-config file): {p}" for p in problems]


def _policy_fields(r: Rule) -> dict[str, Any]:
    """What the resource and the stack policy of a rule share: its metadata, level and config schema."""
    return dict(name=r.id, description=r.description, enforcement_level=EnforcementLevel(r.level),
                config_schema=PolicyConfigSchema(properties=r.config_properties()),
                tags=[r.category], remediation_steps=r.why)


def _resource_policy(r: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not r.applies_to(args.resource_type):
            return
        if bad := config_violations(r, args.get_config()):
            for message in bad:
                report_violation(message, None)
            return
        ctx = _context(r, args.get_config(), urn=args.urn, name=args.name)
        for message in r.check(args.resource_type, plain(args.props), ctx):
            report_violation(message, None)

    return ResourceValidationPolicy(validate=validate, **_policy_fields(r))


def _stack_policy(r: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        if bad := config_violations(r, args.get_config()):
            for message in bad:
                report_violation(message, None)
            return
        resources = [
            Resource(urn=p.urn, type=p.resource_type, name=p.name,
                     parent=p.parent.urn if p.parent is not None else p.opts.parent,
                     props=plain(p.props))
            for p in args.resources
        ]
        for urn, message in r.check(resources, _context(r, args.get_config())):
            report_violation(message, urn)

    return StackValidationPolicy(validate=validate, **_policy_fields(r))


def build_policies() -> list[Policy]:
    """One pulumi_policy policy per rule, in the engine's order."""
    return [_stack_policy(r) if r.scope == "stack" else _resource_policy(r) for r in rules()]
