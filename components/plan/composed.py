"""Your own Pulumi program, planned offline: `modelstack plan --program DIR`.

A program that composes modelstack components (a `ModelAPI` on a cluster handle, your own `NodeGroup`s, a whole
platform) runs here as `pulumi up` would run it, under the same recording mocks as the stack program: its
`Pulumi.yaml` names the project, a stack file gives the config it reads through `pulumi.Config`, and its
`__main__.py` (or the `main:` the project names) runs in-process. What it registered is then read back like the
stack program's resources; the cost comes from those resources alone (:func:`cost_inputs`), since there is no
modelstack config to plan from.

Secure config values (`secure: v1:...`) cannot be decrypted offline: the program reads
:data:`SECRET_PLACEHOLDER` (as a secret) unless `--set KEY=VALUE` gives a value.
"""

from __future__ import annotations

import json
import math
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import yaml

from modelstack.capacity import cost, pricing, sizing
from modelstack.config import schema as cfg
from modelstack.config.load import read_stack_path, stack_config_dir
from modelstack.render import labels

from . import report
from .mocks import StackOutputs
from .runner import ProgramRun, run_program

#: What a program reads for a `secure:` value of its stack file (the ciphertext only the Pulumi CLI can open).
SECRET_PLACEHOLDER = "offline-plan-secret"


class ProgramError(Exception):
    """Bad input for `--program`: no such folder, no Pulumi.yaml or program, a program that raised. The CLI
    prints the message (no traceback) and exits 2."""


@dataclass(frozen=True)
class Project:
    """A Pulumi Python project on disk."""

    dir: Path
    name: str
    main: Path
    """The file to run: `<dir>/__main__.py`, or the `main:` of Pulumi.yaml (a file, or a folder's __main__.py)."""
    stack_config_dir: Path


def load_project(directory: str | os.PathLike[str]) -> Project:
    d = Path(directory).resolve()
    if not d.is_dir():
        raise ProgramError(f"--program {directory}: no such folder")
    meta_path = d / "Pulumi.yaml"
    if not meta_path.is_file():
        raise ProgramError(f"--program {directory}: no Pulumi.yaml in {d} (a Pulumi project names itself there)")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProgramError(f"{meta_path}: not a readable Pulumi.yaml ({str(e).splitlines()[0]})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ProgramError(f"{meta_path}: no project `name:`")
    runtime = meta.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name not in (None, "python"):
        raise ProgramError(f"{meta_path}: runtime {runtime_name!r}; only Python programs run in-process offline")
    main = d / str(meta.get("main") or ".")
    if main.is_dir():
        main = main / "__main__.py"
    if not main.is_file():
        raise ProgramError(f"--program {directory}: no {main.relative_to(d) if main.is_relative_to(d) else main} "
                           "to run (a Python Pulumi program starts in __main__.py)")
    return Project(dir=d, name=meta["name"], main=main, stack_config_dir=stack_config_dir(d, meta))


def stack_names(project: Project) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))


def stack_file(project: Project, stack: Optional[str], config_file: Optional[str]) -> tuple[str, Optional[Path]]:
    """The stack's name and its config file. The name is `stack`, else the config file's (`Pulumi.<stack>.yaml`),
    else the project's only stack; the file is `config_file`, else the project's `Pulumi.<stack>.yaml` (None when
    the project has no stack file at all: the program then runs with no config)."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ProgramError(f"--config {config_file}: no such file")
        if stack is None:
            n = path.name
            stack = n[len("Pulumi."):-len(".yaml")] if n.startswith("Pulumi.") and n.endswith(".yaml") else "dev"
        return stack, path
    known = stack_names(project)
    if stack is None:
        if len(known) > 1:
            raise ProgramError(f"--program {project.dir}: which stack? it has {', '.join(known)}; pass --stack NAME")
        stack = known[0] if known else "dev"
    path = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    if path.is_file():
        return stack, path
    if known:
        raise ProgramError(f"stack '{stack}': no config file {path}; stacks here: {', '.join(known)}")
    return stack, None


@dataclass
class StackConfig:
    """A stack file's config as the engine hands it to the program: full keys (`<project>:<key>` for a bare key)."""

    values: dict[str, Any]
    secret_keys: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    """Secure keys the program reads as SECRET_PLACEHOLDER (no --set value)."""
    stack_outputs: StackOutputs = field(default_factory=StackOutputs)
    """What the program's `pulumi.StackReference`s read, by stack name (--stack-outputs)."""

    @property
    def region(self) -> str:
        r = self.values.get(cfg.REGION_KEY)
        return r if isinstance(r, str) and r else "us-east-1"


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def read_stack_outputs(items: Sequence[str]) -> StackOutputs:
    """`STACK=FILE` each: FILE is the JSON object `pulumi stack output --json [--show-secrets] -s STACK` prints."""
    out = StackOutputs()
    for item in items:
        ref, sep, file = item.partition("=")
        if not sep or not ref or not file:
            raise ProgramError(f"--stack-outputs {item}: expected STACK=FILE (the JSON of `pulumi stack output --json`)")
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as e:
            raise ProgramError(f"--stack-outputs {item}: cannot read {file} ({e.strerror or e})") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise ProgramError(f"--stack-outputs {item}: {file} is not JSON ({e})") from None
        if not isinstance(data, dict):
            raise ProgramError(f"--stack-outputs {item}: {file} holds {type(data).__name__}, not a JSON object of "
                               "output names to values")
        out[ref] = data
    return out


def read_config(project: Project, stack: str, path: Optional[Path], overrides: Sequence[str] = (),
                stack_outputs: Sequence[str] = ()) -> StackConfig:
    """The stack file's config, with `KEY=VALUE` overrides (a value that is JSON is taken as JSON, else as text) and
    the outputs of the stacks it references (:func:`read_stack_outputs`). Raises ConfigError for a stack file that
    cannot be read, ProgramError for an override without `=` or outputs that cannot be read."""
    raw = read_stack_path(path, stack) if path is not None else {}
    out = StackConfig(values={}, stack_outputs=read_stack_outputs(stack_outputs))
    for key, value in raw.items():
        k = _full_key(project.name, str(key))
        if isinstance(value, dict) and set(value) == {"secure"}:
            out.values[k] = SECRET_PLACEHOLDER
            out.secret_keys.append(k)
            out.placeholders.append(k)
        else:
            out.values[k] = value
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ProgramError(f"--set {item}: expected KEY=VALUE")
        k = _full_key(project.name, key)
        try:
            parsed: Any = yaml.safe_load(value) if value[:1] in ("{", "[") else value
        except yaml.YAMLError:
            parsed = value
        out.values[k] = parsed
        if k in out.placeholders:
            out.placeholders.remove(k)
    return out


def _where(exc: BaseException, project: Project) -> str:
    """The innermost line of the program's own files the exception passed through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(project.dir)]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {Path(f.filename).resolve().relative_to(project.dir)}:{f.lineno}: {(f.line or '').strip()})"


def missing_references(config: StackConfig) -> list[str]:
    """Stacks the program referenced (`pulumi.StackReference`) with no outputs given: it read none of theirs."""
    return list(config.stack_outputs.missing)


def _refs(config: StackConfig) -> str:
    missing = missing_references(config)
    if not missing:
        return ""
    return ("; it references " + ", ".join(missing) + " with no outputs offline: give them with "
            + " ".join(f"--stack-outputs {m}=FILE" for m in missing) + " (FILE: `pulumi stack output --json "
            "--show-secrets -s <that stack>`)")


def run(project: Project, stack: str, config: StackConfig) -> ProgramRun:
    """Run the program under the recording mocks, from its own folder with that folder on `sys.path` (as the
    Pulumi language host does). Modules it imports from its folder are forgotten afterwards, so a second program
    with a module of the same name gets its own (installed packages, modelstack among them, stay loaded). Raises ProgramError when the program raises."""
    def program() -> None:
        runpy.run_path(str(project.main), run_name="__main__")

    cwd, path, before = os.getcwd(), list(sys.path), set(sys.modules)
    os.chdir(project.dir)
    sys.path.insert(0, str(project.main.parent))
    try:
        return run_program(program, stack, config.values, project=project.name, region=config.region,
                           secret_keys=config.secret_keys, stack_outputs=config.stack_outputs)
    except pulumi.RunError as e:
        raise ProgramError(f"the program {project.main} stopped: {e}{_where(e, project)}{_refs(config)}") from None
    except (KeyboardInterrupt, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001  (SystemExit too: a program's sys.exit is its failure, not ours)
        what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise ProgramError(f"the program {project.main} raised {what}{_where(e, project)}{_refs(config)}") from None
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        home = project.main.parent
        for name in set(sys.modules) - before:  # the program's own modules: those found in its folder
            top = name.split(".", 1)[0]
            if (home / f"{top}.py").is_file() or (home / top).is_dir():
                del sys.modules[name]


# ---- cost, from what the program registered -------------------------------------------------------------------

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
_CLUSTERS = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
_INGRESS_GROUP = "alb.ingress.kubernetes.io/group.name"


def _root_volume(ng: Any, by_urn: Mapping[str, Any], templates: Mapping[str, Any]) -> cost.RootVolume:
    """The root volume of a node group's launch template (the template the NodeGroup component made), else the
    default the estimate assumes."""
    lt = ng.inputs.get("launchTemplate") or {}
    tmpl = next((templates[k] for k in (lt.get("id"), lt.get("name")) if isinstance(k, str) and k in templates), None)
    for m in (tmpl.inputs.get("blockDeviceMappings") or []) if tmpl is not None else []:
        ebs = m.get("ebs") or {}
        try:
            vtype = ebs.get("volumeType") or "gp3"
            return cost.RootVolume(size_gib=int(ebs.get("volumeSize") or 50), volume_type=vtype,
                                   iops=int(ebs["iops"]) if vtype == "gp3" and ebs.get("iops") else None,
                                   throughput_mbps=int(ebs["throughput"]) if vtype == "gp3" and ebs.get("throughput") else None)
        except (TypeError, ValueError):
            break
    return cost.RootVolume()


def _cpu(limit: Any) -> Optional[float]:
    try:
        text = str(limit)
        return int(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except (TypeError, ValueError):
        return None


def _demand(resources: Sequence[Any]) -> dict[str, list[tuple[str, sizing.Requests, int]]]:
    """Per node pool (or EKS node group name), the models placed there: (model, one replica's pod, min replicas)."""
    out: dict[str, list[tuple[str, sizing.Requests, int]]] = {}
    for m in report.models(list(resources)):
        pod, req = m["pod_requests"], m["requests"]
        try:
            need = sizing.Requests(cpu_millicores=sizing.parse_cpu(pod["cpu"]), memory_mib=sizing.parse_memory(pod["memory"]),
                                   gpu=int(req.get("gpu") or 0), inferentia=int(req.get("neuron") or 0))
        except (TypeError, ValueError):
            continue
        for pool in str(m["node_group"] or "").split(", "):
            if pool:
                out.setdefault(pool, []).append((m["name"], need, int(m["replicas"]["min"] or 0)))
    return out


def _nodes_for(models: Sequence[tuple[str, sizing.Requests, int]], itype: pricing.InstanceType) -> Optional[int]:
    """Nodes of `itype` the models' minimum replicas need, each model packed on nodes of its own (an upper bound of
    what mixing them would need); None when one of them fits on no such node."""
    total = 0
    for _, need, replicas in models:
        if replicas <= 0:
            continue
        per_node = sizing.replicas_per_node(need, itype)
        if per_node <= 0:
            return None
        total += math.ceil(replicas / per_node)
    return total


@dataclass
class CostPlan:
    inputs: Optional[cost.CostInputs]
    """None: nothing the program registered is priced."""
    notes: list[str]


def cost_inputs(resources: Sequence[Any], region: str, today: Optional[date] = None) -> CostPlan:
    """What the estimate prices, from the recorded resources: EKS control planes (extended support from their
    version), managed node groups (instance type, capacity type, min-max size, root volume of their launch
    template), Karpenter NodePools (at max their cpu limit of their dearest type per vCPU), NAT gateways, KMS keys,
    and one ALB per ingress group when the program builds its cluster. At min, a group or pool runs at least the
    nodes the minimum replicas of the models placed on it need (read from their Deployments and autoscalers). Models
    placed on nodes the program does not create add no nodes here: those are the cluster's stack's."""
    day = today or date.today()
    cat = pricing.catalog()
    notes: list[str] = []
    by_urn = {r.urn: r for r in resources}
    templates: dict[str, Any] = {}
    for r in resources:
        if r.type == LAUNCH_TEMPLATE:
            templates[f"{r.name}-id"] = r
            templates[str(r.inputs.get("name") or r.name)] = r
    clusters = [r for r in resources if r.type in _CLUSTERS and not (r.type == "aws:eks/cluster:Cluster" and any(
        p.type == "eks:index:Cluster" for p in [by_urn.get(r.parent or "")] if p is not None))]
    extended = any(str(r.inputs.get("version")) in cfg.EKS_STANDARD_SUPPORT_END
                   and cfg.in_extended_support(str(r.inputs.get("version")), day) for r in clusters)
    groups: list[cost.NodeGroupCost] = []
    demand = _demand(resources)
    served: set[str] = set()  # pools whose models' minimum is counted already (on the first group of the pool)

    def floor(pool_keys: Sequence[str], itype: pricing.InstanceType, what: str) -> int:
        keys = [k for k in dict.fromkeys(pool_keys) if k not in served]
        models = [m for k in keys for m in demand.get(k, [])]
        if not models:
            return 0
        served.update(keys)
        n = _nodes_for(models, itype)
        if n is None:
            notes.append(f"{what}: a model placed there ({', '.join(sorted({m[0] for m in models}))}) fits on no "
                         f"{itype.name} node; its minimum is not priced")
            return 0
        return n

    for r in sorted(resources, key=lambda r: r.urn):  # by URN, as plan.json: the same plan prices the same way
        if r.type == NODE_GROUP:
            i = r.inputs
            types = [t for t in i.get("instanceTypes") or [] if isinstance(t, str)]
            sc = i.get("scalingConfig") or {}
            # the stable name the plan's node group table uses (the EKS name carries a digest that replacements change)
            name = str((i.get("labels") or {}).get(labels.NODE_GROUP_LABEL) or i.get("nodeGroupName") or r.name)
            unknown = [t for t in types if t not in cat]
            if not types or unknown:
                notes.append(f"node group {name}: not priced (instance types {', '.join(unknown) or 'not known offline'} "
                             "not in the price table)")
                continue
            spot = i.get("capacityType") == "SPOT"
            lo, hi = int(sc.get("minSize") or 0), int(sc.get("maxSize") or 0)
            pool = (i.get("labels") or {}).get(labels.NODE_POOL_LABEL)
            need = floor([k for k in (pool, name) if k], cat[types[0]], f"node group {name}")
            if need > lo:
                notes.append(f"node group {name}: {min(need, hi)} node(s) at min, not its min_size {lo}: the minimum "
                             "replicas of the models placed on it need them")
            lo = min(max(lo, need), max(lo, hi))
            groups.append(cost.NodeGroupCost(name=name, instance_type=types[0], capacity_type="SPOT" if spot else "ON_DEMAND",
                                             nodes_min=lo, nodes_max=max(lo, hi),
                                             root_volume=_root_volume(r, by_urn, templates),
                                             spot_instance_types=tuple(types) if spot else ()))
        elif r.type == NODE_POOL:
            spec = r.inputs.get("spec") or {}
            name = str((r.inputs.get("metadata") or {}).get("name") or r.name)
            reqs = {q.get("key"): list(q.get("values") or [])
                    for q in ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []}
            types = [t for t in reqs.get(labels.INSTANCE_TYPE_LABEL, []) if t in cat and cat[t].on_demand_usd_per_hour]
            limit = _cpu((spec.get("limits") or {}).get("cpu"))
            if not types or limit is None:
                notes.append(f"node pool {name}: not priced (" + ("no cpu limit: Karpenter may buy without bound"
                                                                  if types else "no instance types it is held to") + ")")
                continue
            dearest = max(types, key=lambda t: (cat[t].on_demand_usd_per_hour or 0) / cat[t].vcpu)
            cheapest = min(types, key=lambda t: cat[t].on_demand_usd_per_hour or 0)
            spot = "spot" in reqs.get("karpenter.sh/capacity-type", [])
            pool = (((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}).get(labels.NODE_POOL_LABEL)
            hi = math.floor(limit / cat[dearest].vcpu)
            lo = min(floor([pool] if pool else [], cat[cheapest], f"node pool {name}"), hi)
            groups.append(cost.NodeGroupCost(name=name, instance_type=cheapest, capacity_type="SPOT" if spot else "ON_DEMAND",
                                             nodes_min=lo, nodes_max=max(lo, hi), max_instance_type=dearest,
                                             spot_instance_types=(cheapest,) if spot else (),
                                             max_spot_instance_types=(dearest,) if spot else (), kind="nodepool"))
            notes.append(f"node pool {name}: at min, the nodes of {cheapest} its models' minimum replicas need ({lo}); "
                         f"at max, its cpu limit ({limit:g}) of {dearest} (its dearest type per vCPU): an upper bound, "
                         "not what Karpenter would buy")
    lbs: list[cost.LoadBalancer] = []
    ingress_groups = sorted({str(((r.inputs.get("metadata") or {}).get("annotations") or {}).get(_INGRESS_GROUP))
                             for r in resources if r.inputs.get("kind") == "Ingress"
                             and ((r.inputs.get("metadata") or {}).get("annotations") or {}).get(_INGRESS_GROUP)})
    if clusters:
        lbs = [cost.LoadBalancer("alb", g) for g in ingress_groups]
    elif ingress_groups:
        notes.append(f"ingress group(s) {', '.join(ingress_groups)}: the ALB is the cluster's (shared by its group), "
                     "not priced here")
    models = sorted({str(((r.inputs.get("metadata") or {}).get("labels") or {}).get(labels.MODEL_LABEL))
                     for r in resources if r.inputs.get("kind") == "Deployment"
                     and ((r.inputs.get("metadata") or {}).get("labels") or {}).get(labels.MODEL_LABEL)})
    if models and not groups:
        notes.append(f"model(s) {', '.join(models)}: run on nodes this program does not create (the cluster's own "
                     "node groups or pools), so their compute is in that cluster's plan, not here")
    inputs = cost.CostInputs(
        region=region, fallback_to_us_east_1=True, node_groups=tuple(groups), control_planes=len(clusters),
        extended_support=extended, nat_gateways=sum(1 for r in resources if r.type == "aws:ec2/natGateway:NatGateway"),
        load_balancers=tuple(lbs), kms_keys=sum(1 for r in resources if r.type == "aws:kms/key:Key"),
    )
    priced = groups or inputs.control_planes or inputs.nat_gateways or lbs or inputs.kms_keys
    return CostPlan(inputs if priced else None, notes)
