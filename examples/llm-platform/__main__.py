"""The stack program: this folder's Pulumi.<env>.yaml, validated, planned and built like the shipped stacks."""

from modelstack.program import main

main()
