"""Step 5: a TypeScript program using the component package through its provider host."""

from __future__ import annotations

from pathlib import Path

NOT_SERVED = ("the Node.js language host, module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, "
              "is not served by the Go module proxy (403 'This module version is not available' for its version list "
              "and for v3.274.1), and the npm package `pulumi` only downloads the CLI at run time")


def run(pulumi, out: Path, kubeconfig: Path) -> dict:
    return {"not_run": NOT_SERVED}
