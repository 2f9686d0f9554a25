"""The offline plan: the stack program run under Pulumi's in-process mocks, recorded and reported."""
