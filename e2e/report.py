"""report.json and its table; decides which figures must hold."""

from __future__ import annotations

import json
from pathlib import Path

import scaling
import serving


class Report:
    def __init__(self) -> None:
        self.data: dict = {
            "pulumi_version": None, "kubernetes_server_version": None,
            "up": None, "image_change": None, "replace_preview": None, "faults": [], "typescript_consumer": None,
            "build_seconds": {"cold": None, "warm": None},
        }
        self.failures: list[str] = []

    def load_build(self, path: Path) -> None:
        if path.exists():
            b = json.loads(path.read_text())
            # this_run_seconds is warm when the run found every tool cached (cold build times are recorded per tool).
            self.data["build_seconds"] = {"cold": b.get("cold_seconds"), "warm": b.get("this_run_seconds")}

    def check(self) -> list[str]:
        f = []
        d = self.data
        if d.get("error"):
            f.append("run aborted: " + d["error"].strip().splitlines()[0][:300])
        if not d["up"] or not d["up"].get("resources"):
            f.append("pulumi up created no resources")
        ic = d["image_change"]
        if not ic:
            f.append("image change not run")
        else:
            if ic["replacements"]:
                f.append(f"image change replaces {ic['replacements']} resources")
            if not ic["deployment_updates"]:
                f.append("image change shows no Deployment update")
            if ic["min_ready_during_rollout"] < ic["desired"]:
                f.append(f"ready replicas fell to {ic['min_ready_during_rollout']} < {ic['desired']} during rollout")
            if not ic.get("rolled_out"):
                f.append("the new image did not reach every Deployment of the model")
        rp = d.get("replace_preview")
        if not rp:
            f.append("replace-forcing preview not run")
        elif not rp["agree"]:
            f.append(f"the offline diff and pulumi preview disagree on the namespace move: only the engine replaces "
                     f"{rp['only_engine'][:3]}, only the offline diff {rp['only_offline'][:3]}, creations differ "
                     f"{rp['created_differ'][:3]}, unknown {rp['unknown'][:3]}")
        for r in d["faults"]:
            if not r["recovered"]:
                f.append(f"{r['scenario']}: {r['model']} did not get back to {r['desired']} ready replicas")
            if r["scenario"] == "drain" and not r["pdb_held"]:
                f.append(f"drain: {r['model']} fell below its PodDisruptionBudget ({r['min_ready']} ready)")
        if "serving" in d:
            f.extend(serving.checks(d["serving"]))
            f.extend(scaling.checks(d["serving"]))
        else:
            f.append("serving scenarios not run (no real node)")
        f.extend((d.get("get") or {"failures": ["modelstack get not run"]})["failures"])
        ts = d["typescript_consumer"] or {}
        if "error" in ts:
            f.append("TypeScript consumer failed: " + ts["error"].splitlines()[0][:200])
        elif "not_run" not in ts and not ts.get("resources"):
            f.append("TypeScript consumer created no resources")
        return f

    def write(self, path: Path) -> bool:
        self.failures = self.check()
        self.data["failures"] = self.failures
        path.write_text(json.dumps(self.data, indent=2) + "\n")
        return not self.failures

    def table(self) -> str:
        d = self.data
        rows = [("pulumi", d["pulumi_version"]), ("kubernetes server", d["kubernetes_server_version"])]
        if d["up"]:
            rows.append(("pulumi up", f"{d['up']['resources']} resources in {d['up']['seconds']} s"))
        ic = d["image_change"]
        if ic:
            rows.append(("image change", f"{ic['model']}: {ic['deployment_updates']} Deployment updates, "
                                         f"{ic['replacements']} replacements, min ready {ic['min_ready_during_rollout']}"
                                         f"/{ic['desired']} ({ic['watch_events']} watch events)"))
        rp = d.get("replace_preview")
        if rp:
            rows.append(("replace preview", f"{rp['model']} to namespace {rp['to_namespace']}: pulumi preview replaces "
                                            f"{rp['engine_replaced']}, creates {rp['engine_created']}; the offline diff "
                                            f"replaces {rp['offline_replaced']}, creates {rp['offline_created']}"
                                            f" ({'agree' if rp['agree'] else 'DISAGREE'})"))
        ts = d["typescript_consumer"] or {}
        rows.append(("TypeScript consumer", f"not run: {ts['not_run']}" if "not_run" in ts else
                     f"failed: {ts['error'].splitlines()[0][:120]}" if "error" in ts else
                     f"{ts.get('resources')} resources in {ts.get('seconds')} s (SDK generated and built in {ts.get('sdk_seconds')} s)"))
        sv = d.get("serving") or {}
        if sv.get("node"):
            nd = sv["node"]
            rows.append(("real node", f"{nd['name']} ({nd['kubelet']}, {nd['runtime']}) Ready in {nd['ready_seconds']} s"))
        serving.row(rows, sv, "rollout", lambda r: (
            f"{r['requests']} requests, {r['failed']} failed, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"{r['answers_by_version']} ({r['rollout_seconds']} s)"))
        serving.row(rows, sv, "limits", lambda lm: (
            f"{lm['concurrent']} at once over {lm['max_concurrency']}+{lm['max_queue_length']}: "
            f"{lm['accepted']} accepted, {lm['shed_503']} shed 503 (p99 {lm['shed_p99_ms']} ms), {lm['other_errors']} other"))
        serving.row(rows, sv, "dns", lambda dn: (
            f"pod resolves {', '.join(f'{k} -> {v}' for k, v in dn['answers'].items())} "
            f"(ClusterIP {dn['cluster_ip']}: {'ok' if dn['ok'] else 'WRONG'})"))
        rows.extend(scaling.rows(sv))
        serving.row(rows, sv, "overhead", lambda o: (
            f"proxy adds p50 {o.get('added_p50_ms')} ms, p99 {o.get('added_p99_ms')} ms "
            f"(direct {o['direct_p50_ms']}/{o['direct_p99_ms']}, proxy {o['proxy_p50_ms']}/{o['proxy_p99_ms']})"))
        b = d["build_seconds"]
        rows.append(("build seconds", f"cold {b['cold']}, this run {b['warm']}"))
        w = max(len(r[0]) for r in rows)
        lines = [f"{k:<{w}}  {v}" for k, v in rows]
        if d["faults"]:
            lines.append("")
            lines.append(f"{'scenario':<10} {'model':<17} {'desired':>7} {'min ready':>9} {'PDB held':>8} {'recovered':>9} {'seconds':>7}")
            for r in d["faults"]:
                lines.append(f"{r['scenario']:<10} {r['model']:<17} {r['desired']:>7} {r['min_ready']:>9} "
                             f"{str(r['pdb_held']):>8} {str(r['recovered']):>9} {r['recovery_seconds']:>7}")
        lines.append("")
        lines.append("FAILED: " + "; ".join(self.failures) if self.failures else "all figures hold")
        return "\n".join(lines)
