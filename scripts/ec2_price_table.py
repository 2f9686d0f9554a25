"""Rebuild rows of components/data/ec2_instances.csv from the pinned sources of data/SOURCES.md.

    python scripts/ec2_price_table.py K-KARPENTER-GIT-DIR EKS-AMI-GIT-DIR SPOTINFO-GIT-DIR > rows.csv

Each argument is a git directory (a snapshot of aws/karpenter-provider-aws, awslabs/amazon-eks-ami and
alexei-led/spotinfo); files are read at the commits SOURCES.md pins, never at HEAD. Prints the CSV header and
one row per type in FAMILIES (sizes `large` up to `MAX_SIZE`, every size for accelerated families) that has every
column the planner needs: shape and allocatable (K-DOC), us-east-1 on-demand price (K-PRICE) and max pods (ENI).
Spot columns are left empty where the Spot Advisor feed has no entry, as for the existing rows. Types that miss a
needed column go to stderr as `unpriced TYPE: reason`, and every real type name (K-DOC or K-PRICE) that is not
a row is written to components/data/ec2_known_unpriced.txt by `--known FILE`.

Nothing is estimated: every cell is a source value or a unit conversion (MiB -> GiB, `3920m` -> 3920).
Run with `--check` to compare the rows it would produce for the types already in the CSV with the CSV itself.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

K_DOC = ("692ccdd0629e488300821443f0fa0bc3c3e08047", "website/content/en/docs/reference/instance-types.md")
K_PRICE = ("6fc13b5236fd04fd16ff3f9dc7490d0813994099", "pkg/providers/pricing/zz_generated.pricing_aws.go")
ENI = ("2377b69aaeb8d751af1a265c2bfbeb94e6f6da90", "templates/shared/runtime/eni-max-pods.txt")
NODEADM = ("4d63a3bc2d86958490e0e0e2a04eba69da4c45db", "nodeadm/internal/kubelet/instance-info.jsonl")
SPOTADV = ("5eedf20a99614443af215f4aaf09bd10805cac72", "internal/spot/data/spot-advisor-data.json")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")

#: v3 families: current-generation general purpose, compute, memory, burstable, local-NVMe and network variants,
#: storage optimized, Graviton, Inferentia and Trainium. Sizes large..MAX_SIZE (accelerated: all listed sizes).
FAMILIES = (
    "m5d", "m5n", "m5dn", "m5zn", "m6id", "m6in", "m6idn", "m7i", "m8i",
    "c5d", "c5n", "c6id", "c6in", "c7i-flex", "c8i",
    "r5b", "r5d", "r5n", "r5dn", "r6id", "r6in", "r6idn", "r8i",
    "t3a", "t4g",
    "i3", "i3en", "i4i", "i4g", "im4gn", "is4gen", "i7ie",
    "m6gd", "m7gd", "m8g", "c6gd", "c6gn", "c7gd", "c7gn", "c8g", "r6gd", "r7gd", "r8g",
    "inf1", "inf2", "trn1", "trn1n", "trn2",
)
ACCELERATED = {"inf1", "inf2", "trn1", "trn1n", "trn2"}
SIZES = ("medium", "large", "xlarge", "2xlarge", "3xlarge", "4xlarge", "6xlarge", "8xlarge", "12xlarge",
         "16xlarge", "24xlarge", "32xlarge", "48xlarge")
MAX_SIZE = "8xlarge"
#: Burstable families start at medium (the smallest size that runs a model next to the node daemons).
SMALLEST = {"t3a": "medium", "t4g": "medium"}

HEADER = ("instance_type,family,arch,vcpu,memory_gib,shape_source,gpu_count,gpu_model,gpu_memory_gib,"
          "gpu_memory_total_gib,accelerator_count,accelerator_model,neuroncores,local_nvme_gb,network_bandwidth_mbps,"
          "max_pods,max_pods_nodeadm_formula,karpenter_pods,alloc_cpu_millicores,alloc_memory_gib,"
          "on_demand_usd_per_hour,spot_savings_pct_us_east_1,spot_interrupt_freq_us_east_1,spot_savings_pct_us_west_2,"
          "spot_interrupt_freq_us_west_2,spot_savings_pct_eu_west_1,spot_interrupt_freq_eu_west_1,vantage_gpu_model,"
          "vantage_gpu_memory_total_gib").split(",")


def show(repo: str, pin: tuple[str, str]) -> str:
    return subprocess.run(["git", "-C", repo, "show", f"{pin[0]}:{pin[1]}"], check=True, capture_output=True,
                          text=True).stdout


def karpenter_doc(text: str) -> dict[str, dict[str, str]]:
    """Labels and resources of each type on the Karpenter reference page, in one dict per type."""
    out: dict[str, dict[str, str]] = {}
    cur: dict[str, str] | None = None
    for line in text.splitlines():
        m = re.match(r"^### `([a-z0-9.-]+)`", line)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        m = re.match(r"^\s*\|([^|]+)\|([^|]*)\|\s*$", line)
        if cur is not None and m and not m.group(1).startswith(("--", "Label", "Resource")):
            cur[m.group(1).strip()] = m.group(2).strip()
    return out


def karpenter_prices(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r'"([a-z0-9.-]+\.[a-z0-9-]+)":\s*([0-9.]+)', text)}


def eni_max_pods(text: str) -> dict[str, int]:
    return {a: int(b) for a, b in (line.split() for line in text.splitlines() if line.strip() and not line.startswith("#"))}


def nodeadm(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            d = json.loads(line)
            out[d["instanceType"]] = d["defaultMaxENIs"] * (d["ipv4AddressesPerInterface"] - 1) + 2
    return out


def _mib_to_gib(v: str) -> str:
    g = round(int(v.rstrip("Mi")) / 1024, 3)
    return str(int(g)) if g == int(g) else repr(g)


def _cpu(v: str) -> str:
    return v[:-1] if v.endswith("m") else str(int(v) * 1000)


def row(t: str, doc: dict[str, str], price: float, pods: int, formula: int | None, spot: dict) -> dict[str, str]:
    lab = lambda k: doc.get(f"karpenter.k8s.aws/{k}", "")  # noqa: E731
    gpu_count = int(lab("instance-gpu-count") or 0)
    gpu_mem = _mib_to_gib(lab("instance-gpu-memory")) if lab("instance-gpu-memory") else ""
    r = {
        "instance_type": t, "family": t.split(".")[0], "arch": doc.get("kubernetes.io/arch", ""),
        "vcpu": lab("instance-cpu"), "memory_gib": _mib_to_gib(lab("instance-memory")), "shape_source": "karpenter-docs",
        "gpu_count": str(gpu_count), "gpu_model": lab("instance-gpu-name"), "gpu_memory_gib": gpu_mem,
        "gpu_memory_total_gib": (_mib_to_gib(str(int(lab("instance-gpu-memory")) * gpu_count)) if gpu_mem else ""),
        "accelerator_count": lab("instance-accelerator-count"), "accelerator_model": lab("instance-accelerator-name"),
        "neuroncores": doc.get("aws.amazon.com/neuroncore", ""), "local_nvme_gb": lab("instance-local-nvme"),
        "network_bandwidth_mbps": lab("instance-network-bandwidth"), "max_pods": str(pods),
        "max_pods_nodeadm_formula": "" if formula is None else str(formula), "karpenter_pods": doc.get("pods", ""),
        "alloc_cpu_millicores": _cpu(doc["cpu"]), "alloc_memory_gib": _mib_to_gib(doc["memory"]),
        "on_demand_usd_per_hour": f"{price:.6f}", "vantage_gpu_model": "", "vantage_gpu_memory_total_gib": "",
    }
    labels = [x["label"] for x in spot["ranges"]]
    for region in REGIONS:
        key = region.replace("-", "_")
        s = spot["spot_advisor"].get(region, {}).get("Linux", {}).get(t)
        r[f"spot_savings_pct_{key}"] = str(s["s"]) if s else ""
        r[f"spot_interrupt_freq_{key}"] = labels[s["r"]] if s else ""
    return r


def build(kdir: str, edir: str, sdir: str) -> tuple[dict, dict, dict, dict, dict]:
    docs = karpenter_doc(show(kdir, K_DOC))
    prices = karpenter_prices(show(kdir, K_PRICE))
    pods = eni_max_pods(show(edir, ENI))
    formula = nodeadm(show(edir, NODEADM))
    spot = json.loads(show(sdir, SPOTADV))
    return docs, prices, pods, formula, spot


def wanted(docs: dict, prices: dict) -> list[str]:
    out = []
    for fam in FAMILIES:
        sizes = [t.split(".")[1] for t in set(docs) | set(prices) if t.split(".")[0] == fam]
        lo = SIZES.index(SMALLEST.get(fam, "large"))
        hi = len(SIZES) - 1 if fam in ACCELERATED else SIZES.index(MAX_SIZE)
        out += [f"{fam}.{s}" for s in SIZES[lo:hi + 1] if s in sizes]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("karpenter")
    ap.add_argument("eks_ami")
    ap.add_argument("spotinfo")
    ap.add_argument("--csv", default="components/data/ec2_instances.csv")
    ap.add_argument("--check", action="store_true", help="compare with the CSV's existing karpenter-docs rows")
    ap.add_argument("--known", metavar="FILE", help="write every real type name that is not a CSV row here")
    a = ap.parse_args()
    docs, prices, pods, formula, spot = build(a.karpenter, a.eks_ami, a.spotinfo)
    existing = list(csv.DictReader(io.StringIO(Path(a.csv).read_text())))
    have = {r["instance_type"] for r in existing}
    if a.check:
        bad = 0
        for old in existing:
            t = old["instance_type"]
            if old["shape_source"] != "karpenter-docs" or t not in docs:
                continue
            new = row(t, docs[t], prices.get(t, 0.0), pods[t], formula.get(t), spot)
            if old["on_demand_usd_per_hour"] == "":
                new["on_demand_usd_per_hour"] = ""
            diffs = [(k, old[k], new[k]) for k in HEADER if not k.startswith("vantage") and old[k] != new[k]]
            if diffs:
                bad += 1
                print(t, diffs, file=sys.stderr)
        print(f"checked {len(existing)} rows, {bad} differ", file=sys.stderr)
        return 1 if bad else 0
    w = csv.DictWriter(sys.stdout, HEADER, lineterminator="\n")
    w.writeheader()
    added = set()
    for t in wanted(docs, prices):
        if t in have:
            continue
        missing = [what for what, ok in (("K-DOC shape", t in docs and "cpu" in docs.get(t, {})),
                                         ("K-PRICE us-east-1 price", t in prices), ("ENI max pods", t in pods)) if not ok]
        if missing:
            print(f"unpriced {t}: no {', '.join(missing)}", file=sys.stderr)
            continue
        w.writerow(row(t, docs[t], prices[t], pods[t], formula.get(t), spot))
        added.add(t)
    if a.known:
        names = sorted((set(docs) | set(prices)) - have - added)
        Path(a.known).write_text(
            "# Real EC2 instance types (named in Karpenter's instance-type reference or its us-east-1 price table, at\n"
            "# the commits data/SOURCES.md pins) that are not rows of ec2_instances.csv. Generated by\n"
            "# scripts/ec2_price_table.py --known; one name a line.\n" + "\n".join(names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
