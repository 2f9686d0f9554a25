"""The stack program `pulumi up -s <env>` runs: read this stack's config, validate it, build the platform."""

from modelstack.program import main

main()
