"""The e2e driver: control plane up, real `pulumi up`, image change, faults, TypeScript consumer, report.

Run by `make e2e` after e2e/build.sh, with the repository's venv Python. Writes out/e2e/report.json and prints a
table; exits non-zero when a figure does not hold. Everything it starts is stopped on exit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))  # upstream.py: the pinned upstream CRDs, fetched and checksummed

import yaml  # noqa: E402

import faults  # noqa: E402
import get as get_step  # noqa: E402
import upstream  # noqa: E402
import nodes as nodedefs  # noqa: E402
import prodlike  # noqa: E402
import replace as replace_step  # noqa: E402
import report  # noqa: E402
import scaling  # noqa: E402
import serving  # noqa: E402
import tsconsumer  # noqa: E402
from cluster import Cluster, Tools  # noqa: E402
from kube import Kube  # noqa: E402
from realnode import TAINT_KEY, NodeTools, RealNode  # noqa: E402
from watch import Watcher  # noqa: E402

ROOT = HERE.parent
OUT = ROOT / "out" / "e2e"
STACK_DIR = HERE / "stack"
STACK = "e2e"
NEW_IMAGE_TAG = "1.4.3"  # sentiment 1.4.2 -> 1.4.3: the image change of step 3
CHANGED_MODEL = "sentiment"


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


#: The charts whose CRDs our objects need, at the versions their pins name (tools/upstream.py fetches them).
CRDS = ["keda", "keda-add-ons-http"]


def crd_files() -> list[Path]:
    """The CRD files to install, fetched and verified on first use (exits with the reason when they cannot be)."""
    try:
        return [f for chart in CRDS for f in upstream.crd_files(chart)]
    except upstream.UpstreamError as e:
        raise SystemExit(f"upstream CRDs: {e}") from None


def install_crds(kube: Kube) -> list[str]:
    """What installing the KEDA and HTTP add-on charts leaves that our objects need: their CRDs and the `keda`
    namespace (in_flight models put their Ingress there, beside the interceptor). Their controllers do not run."""
    kube.apply("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}})
    names = []
    for f in crd_files():
        crd = yaml.safe_load(f.read_text())
        kube.apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        names.append(crd["metadata"]["name"])

    def established() -> bool:
        for n in names:
            c = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{n}") or {}
            if not any(x["type"] == "Established" and x["status"] == "True" for x in c.get("status", {}).get("conditions", [])):
                return False
        return True
    if not faults.wait_until(established, 60):
        raise SystemExit("CRDs not established")
    return names


class Pulumi:
    def __init__(self, pulumi_bin: Path, provider: Path, langhost_dir: Path, venv_bin: Path, kubeconfig: Path):
        home = OUT / "pulumi-home"
        state = OUT / "state"
        shutil.rmtree(state, ignore_errors=True)  # a new cluster every run: old state would point at nothing
        state.mkdir(parents=True)
        home.mkdir(parents=True, exist_ok=True)
        # The provider and the language hosts are found on PATH (ambient plugins); nothing is downloaded.
        pdir = OUT / "plugins"
        shutil.rmtree(pdir, ignore_errors=True)
        pdir.mkdir(parents=True)
        os.symlink(provider, pdir / "pulumi-resource-kubernetes")
        self.exe = str(pulumi_bin / "pulumi")
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([str(pulumi_bin), str(langhost_dir), str(pdir), str(venv_bin), os.environ["PATH"]]),
            "PULUMI_HOME": str(home),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "modelstack-e2e",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
            "KUBECONFIG": str(kubeconfig),
        }
        self.logs = OUT / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, cwd: Path = STACK_DIR, stdin: str | None = None, log_name: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.exe, *args, "--non-interactive"] if args[0] not in ("version",) else [self.exe, *args]
        try:
            p = subprocess.run(cmd, cwd=cwd, env=self.env, input=stdin, text=True, capture_output=True, timeout=1200)
        except subprocess.TimeoutExpired as e:
            raise SystemExit(f"pulumi {' '.join(args)} did not finish in {e.timeout} s") from None
        if log_name:
            (self.logs / f"pulumi-{log_name}.log").write_text(f"$ {' '.join(cmd)}\n{p.stdout}\n--- stderr\n{p.stderr}")
        if check and p.returncode != 0:
            raise SystemExit(f"pulumi {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        return p


def count_resources(pl: Pulumi, cwd: Path = STACK_DIR) -> int:
    state = json.loads(pl.run("stack", "export", cwd=cwd).stdout)
    res = state.get("deployment", {}).get("resources") or []
    return len(res)


def preview_steps(pl: Pulumi) -> list[dict]:
    pl.run("preview", "--diff", log_name="preview-diff-image-change")  # the human-readable diff, kept in logs/
    p = pl.run("preview", "--json", log_name="preview-json-image-change")
    out = json.loads(p.stdout)
    return out.get("steps") or []


def model_facts(kube: Kube, ns: str, platform) -> list[faults.ModelFacts]:
    facts = []
    for name, m in platform.config.models.items():
        pdb = kube.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}") or {}
        mu = pdb.get("spec", {}).get("maxUnavailable", 0)
        facts.append(faults.ModelFacts(name=name, desired=m.autoscaling.min_replicas,
                                       pdb_max_unavailable=int(mu) if isinstance(mu, int) else 0))
    return facts


def main() -> int:
    t0 = time.time()
    tools_env = OUT / "tools.env"
    env = dict(line.split("=", 1) for line in tools_env.read_text().split() if "=" in line)
    platform, capacity = prodlike.load()
    ns = next(iter({m.namespace for m in platform.config.models.values()}))
    rep = report.Report()
    rep.load_build(OUT / "build.json")

    run_dir = OUT / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    cluster = Cluster(Tools.from_env_file(tools_env), run_dir)
    node: RealNode | None = None
    queue: scaling.QueueBackend | None = None

    def stop_all() -> None:
        try:
            if queue:
                queue.stop()
        finally:
            try:
                if node:
                    node.stop()
            finally:
                cluster.stop()

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        log("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok")
        kube = cluster.start()
        rep.data["kubernetes_server_version"] = kube.get("/version")["gitVersion"]
        node_objs = nodedefs.all_nodes(platform, capacity)
        faults.create_nodes(kube, node_objs)
        if not faults.wait_until(lambda: faults.nodes_ready(kube, {n["metadata"]["name"] for n in node_objs}), 120):
            raise SystemExit("kwok nodes did not become Ready")
        log(f"{len(node_objs)} kwok nodes Ready; installing CRDs")
        install_crds(kube)

        log("starting the real node (containerd, kubelet, kube-proxy, CoreDNS) and building its images")
        s = time.time()
        node_tools = NodeTools.from_env_file(tools_env)
        node = RealNode(node_tools, run_dir, OUT / "logs", int(cluster.server.rsplit(":", 1)[1]), cluster.token)
        node.start(kube, serving.node_labels())
        node_ready_s = round(time.time() - s, 1)
        built = serving.build_images(node, node_tools.podbins)
        n = kube.get(f"/api/v1/nodes/{node.name}")
        rep.data["serving"] = {"node": {
            "name": node.name, "ready_seconds": node_ready_s, "kubelet": n["status"]["nodeInfo"]["kubeletVersion"],
            "runtime": n["status"]["nodeInfo"]["containerRuntimeVersion"], "pod_cidr": str(node.pod_cidr),
            "images": built, "proxy_haproxy_version": serving.images.haproxy_version()}}
        log(f"real node {node.name} Ready in {node_ready_s} s; images {sorted(built)}")
        if os.environ.get("E2E_REAL_ADDONS", "1") != "0":
            log("the real KEDA and HTTP add-on: images, upstream manifests with our values, pods Ready")
            try:
                rep.data["serving"]["addons"] = scaling.deploy(kube, node, env, platform, capacity, TAINT_KEY,
                                                               faults.wait_until)
            except (RuntimeError, SystemExit, KeyError, ValueError, OSError) as e:
                rep.data["serving"]["addons"] = {"error": f"{type(e).__name__}: {e}"[-2000:]}
            log(f"add-ons: {rep.data['serving']['addons']}")

        venv_bin = Path(sys.executable).parent
        pulumi_bin = Path(env["PULUMI_BIN"])
        pl = Pulumi(pulumi_bin, Path(env["K8S_PROVIDER"]), pulumi_bin, venv_bin, cluster.kubeconfig)
        rep.data["pulumi_version"] = pl.run("version").stdout.strip()
        (STACK_DIR / f"Pulumi.{STACK}.yaml").unlink(missing_ok=True)  # the previous run's config (old salt)
        pl.run("stack", "init", STACK)
        pl.run("config", "set", "--secret", "kubeconfig", stdin=cluster.kubeconfig.read_text())
        with_addons = "addons" in rep.data["serving"] and "error" not in rep.data["serving"]["addons"]
        if with_addons:  # the queue KEDA's SQS scaler reads (moto, through a relay in the node's namespace)
            queue = scaling.QueueBackend(node, run_dir / "queue")
            pl.run("config", "set", "queue_auth", json.dumps(queue.auth(ns)))
        pl.run("config", "set", "serving", json.dumps({**serving.models(TAINT_KEY),
                                                       **(scaling.models(TAINT_KEY, queue) if with_addons else {})}))

        log("pulumi up (prod-like models and traffic split)")
        s = time.time()
        pl.run("up", "--yes", "--skip-preview", log_name="up")
        rep.data["up"] = {"resources": count_resources(pl), "seconds": round(time.time() - s, 1)}
        log(f"up: {rep.data['up']}")
        facts = model_facts(kube, ns, platform)

        # Step 3: image change -> preview shows updates, not replaces; rollout never drops below desired.
        old = platform.config.models[CHANGED_MODEL].image
        new = re.sub(r":[^:/]+$", f":{NEW_IMAGE_TAG}", old)
        pl.run("config", "set", "--path", f"images.{CHANGED_MODEL}", new)
        steps = preview_steps(pl)
        dep_updates = sum(1 for st in steps if st.get("op") == "update" and ":apps/v1:Deployment" in st.get("urn", ""))
        replacements = sum(1 for st in steps if st.get("op") in ("replace", "create-replacement", "delete-replaced"))
        desired = next(f.desired for f in facts if f.name == CHANGED_MODEL)
        log(f"image change {old} -> {new}: preview {dep_updates} Deployment updates, {replacements} replacements")
        with Watcher(kube, ns, [CHANGED_MODEL]) as w:
            pl.run("up", "--yes", "--skip-preview", log_name="up-image-change")
            faults.wait_until(lambda: faults.all_ready(kube, ns, facts), 60)
        images_now = {c["image"] for d in kube.items(f"/apis/apps/v1/namespaces/{ns}/deployments")
                      if d["metadata"]["name"].startswith(CHANGED_MODEL + "-on-demand") or d["metadata"]["name"] == CHANGED_MODEL
                      for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "model"}
        rep.data["image_change"] = {"model": CHANGED_MODEL, "from": old, "to": new, "deployment_updates": dep_updates,
                                    "replacements": replacements, "min_ready_during_rollout": w.min_ready.get(CHANGED_MODEL, 0),
                                    "desired": desired, "watch_events": w.samples, "rolled_out": images_now == {new}}

        # Serving scenarios: real pods on the real node, real requests.
        sv = rep.data["serving"]
        steps = [("rollout", lambda: serving.rollout(pl, kube, node, ns, TAINT_KEY, faults.wait_until)),
                 ("limits", lambda: serving.limits(kube, node, ns)),
                 ("dns", lambda: serving.dns(kube, node, ns)),
                 ("overhead", lambda: serving.overhead(kube, node, ns))]
        if with_addons:  # through the real interceptor, scaled by the real KEDA: before the rollout, whose `up`
            # keeps only its own models
            steps[:0] = [("scale_from_zero", lambda: scaling.scale_from_zero(kube, node, ns, faults.wait_until)),
                         ("autoscale", lambda: scaling.autoscale(kube, node, ns, faults.wait_until)),
                         ("interceptor_overhead", lambda: scaling.interceptor_overhead(kube, node, ns)),
                         ("queue_scale", lambda: scaling.queue_scale(kube, queue, ns, faults.wait_until))]
        for key, step in steps:
            log(f"serving: {key}")
            try:
                sv[key] = step()
            except (RuntimeError, SystemExit, StopIteration, KeyError, TypeError) as e:
                sv[key] = {"error": f"{type(e).__name__}: {e}"[-2000:]}
            log(f"serving {key}: {sv[key]}")

        log("replace-forcing change (a model moved to another namespace): real preview against the offline diff")
        rep.data["replace_preview"] = replace_step.run(pl, venv_bin, STACK_DIR, STACK, "modelstack-e2e", CHANGED_MODEL,
                                                       {CHANGED_MODEL: new}, OUT / "replace")
        log(f"replace preview: {rep.data['replace_preview']}")

        log("modelstack get (stack and model) against the API server")
        rep.data["get"] = get_step.run(pl, venv_bin, STACK_DIR, STACK, cluster.kubeconfig, OUT, platform)

        # Step 4: faults.
        for scenario in ("spot-loss", "zone-loss", "drain"):
            victims = faults.victims_for(scenario, node_objs)
            log(f"fault {scenario}: {len(victims)} nodes")
            rep.data["faults"].extend(faults.run_scenario(kube, ns, facts, node_objs, scenario, victims))

        # Step 5: a TypeScript program through the component package.
        log("TypeScript consumer")
        try:
            rep.data["typescript_consumer"] = tsconsumer.run(pl, OUT, cluster.kubeconfig)
        except (RuntimeError, SystemExit) as e:  # reported (and failing), the other figures still written
            rep.data["typescript_consumer"] = {"error": str(e)[-3000:]}
    except (SystemExit, Exception) as e:  # noqa: BLE001 - any failure still gets a report
        if isinstance(e, SystemExit) and e.code in (0, None):
            raise
        rep.data["error"] = str(e)[-4000:]
        log(f"FAILED: {rep.data['error']}")
    finally:
        try:
            stop_all()
        except Exception as e:  # noqa: BLE001 - reported: something of the run may be left running
            rep.data.setdefault("error", f"stopping the run's processes: {type(e).__name__}: {e}")
        if node and "serving" in rep.data:
            rep.data["serving"]["node"]["log_lines"] = serving.node_log_counts(node.logs)
    rep.data["total_seconds"] = round(time.time() - t0, 1)
    ok = rep.write(OUT / "report.json")
    print(rep.table())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
