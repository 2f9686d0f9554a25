"""The modelstack stack program on this folder's stack files: models of kind async and batch (README, "Async and
batch APIs"). Plan it offline: `modelstack plan dev --project-dir examples/cortex-queues`."""

from modelstack import program

program.main()
