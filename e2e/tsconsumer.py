"""Step 5: a TypeScript program using the component package through its provider host.

1. `pulumi package gen-sdk <clone>/components --language nodejs --local`: the CLI runs components/__main__.py
   (the Python provider host) for its schema and asks the Node.js language host to generate the SDK.
2. The SDK is compiled with tsc; the program (e2e/ts) installs it beside @pulumi/pulumi from npm.
3. `pulumi up` of the program: the engine starts the same provider host for `modelstack:index:ModelAPI`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PULUMI_NPM_VERSION = "3.270.0"  # newest @pulumi/pulumi on npm not newer than the CLI (3.274.1)
TYPESCRIPT_VERSION = "5.9.3"
TS_NODE_VERSION = "10.9.2"
TYPES_NODE_VERSION = "22.19.0"


def _npm(args: list[str], cwd: Path, env: dict, log: Path) -> None:
    p = subprocess.run(["npm", *args, "--no-audit", "--no-fund", "--loglevel=error"], cwd=cwd, env=env,
                       capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(f"$ npm {' '.join(args)} (in {cwd})\n{p.stdout}\n{p.stderr}\n")
    if p.returncode != 0:
        raise RuntimeError(f"npm {' '.join(args)} failed in {cwd}: {p.stderr[-2000:]}")


def run(pl, out: Path, kubeconfig: Path) -> dict:
    if shutil.which("npm") is None or shutil.which("node") is None:
        return {"not_run": "node/npm not found on PATH"}
    cache = Path(os.environ.get("MODELSTACK_E2E_CACHE", Path.home() / ".cache" / "modelstack-e2e"))
    env = {**pl.env, "npm_config_cache": str(cache / "npm")}
    log = out / "logs" / "typescript.log"
    log.write_text("")
    sdk = out / "ts-sdk"
    shutil.rmtree(sdk, ignore_errors=True)
    t0 = time.time()
    pl.run("package", "gen-sdk", str(ROOT / "components"), "--language", "nodejs", "--local", "--out", str(sdk),
           cwd=out, log_name="gen-sdk")
    sdk_js = sdk / "nodejs"
    pkg = json.loads((sdk_js / "package.json").read_text())
    _npm(["install", f"@pulumi/pulumi@{PULUMI_NPM_VERSION}", f"typescript@{TYPESCRIPT_VERSION}",
          f"@types/node@{TYPES_NODE_VERSION}"], sdk_js, env, log)
    # The generated SDK's own postinstall compiles it with tsc into bin/ (npm install with arguments skips it).
    _npm(["run", "postinstall"], sdk_js, env, log)

    prog = out / "ts"
    shutil.rmtree(prog, ignore_errors=True)
    shutil.copytree(HERE / "ts", prog)
    # The engine finds the modelstack plugin through the project's packages: the clone's components/ folder.
    with open(prog / "Pulumi.yaml", "a") as f:
        f.write(f"packages:\n  modelstack: {ROOT / 'components'}\n")
    (prog / "package.json").write_text(json.dumps({
        "name": "modelstack-e2e-ts", "private": True, "main": "index.ts",
        "dependencies": {"@pulumi/pulumi": PULUMI_NPM_VERSION, pkg["name"]: f"file:{sdk_js}"},
        "devDependencies": {"typescript": TYPESCRIPT_VERSION, "ts-node": TS_NODE_VERSION,
                            "@types/node": TYPES_NODE_VERSION},
    }, indent=2) + "\n")
    _npm(["install", "--install-links"], prog, env, log)
    sdk_seconds = round(time.time() - t0, 1)

    pl.run("stack", "init", "ts", cwd=prog)
    pl.run("config", "set", "--secret", "kubeconfig", cwd=prog, stdin=kubeconfig.read_text())
    s = time.time()
    pl.run("up", "--yes", "--skip-preview", cwd=prog, log_name="up-typescript")
    up_seconds = round(time.time() - s, 1)
    state = json.loads(pl.run("stack", "export", cwd=prog).stdout)
    resources = state.get("deployment", {}).get("resources") or []
    types = sorted({r["type"] for r in resources})
    return {"resources": len(resources), "seconds": up_seconds, "sdk_seconds": sdk_seconds,
            "sdk_package": pkg["name"], "types": types}
