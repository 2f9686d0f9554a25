"""modelstack guardrails: one set of rules, run by `modelstack plan` and by `pulumi preview --policy-pack`.

`engine.evaluate` runs them offline; `pack.build_policies` wraps them for CrossGuard.
"""
