"""Reliability rules: a model API keeps serving through deploys, node drains, zone loss and spot reclaims."""

from __future__ import annotations

import json
from typing import Any, Iterator, Mapping, Sequence

from modelstack.render import labels as _labels

from .rule import (
    CAPACITY_LABEL, DEPLOYMENT, MODEL_LABEL, NODE_CLASS, NODE_GROUP, NODE_GROUP_LABEL, NODE_POOL, NODE_POOL_LABEL, POD_TEMPLATE_TYPES, PROD_ONLY,
    UNKNOWN, Context, Param, Resource, annotations_of, as_list, containers, get, in_envs, is_unknown, key, labels, pod_spec,
    resource_rule, stack_rule,
)

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
CAPACITY_TYPE_LABEL = _labels.CAPACITY_TYPE_LABEL
ZONE_KEY = _labels.ZONE_LABEL


def is_on_demand_floor(props: Mapping[str, Any]) -> bool:
    """The companion Deployment that keeps a spot model's on-demand minimum."""
    return key(labels(props), CAPACITY_LABEL) == "on-demand"


@resource_rule(
    "readiness-probe", category="reliability", level="mandatory", types=POD_TEMPLATE_TYPES,
    description="Every serving container has a readiness probe.",
    why="Without one, a replica still loading weights receives traffic during scale-up and rollouts.",
)
def readiness_probe(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    yield from _missing_probe(resource_type, props, "readinessProbe")


@resource_rule(
    "liveness-probe", category="reliability", level="advisory", types=POD_TEMPLATE_TYPES,
    description="Every serving container has a liveness probe.",
    why="A wedged model server (deadlocked worker, lost GPU) is only restarted if something checks it.",
)
def liveness_probe(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    yield from _missing_probe(resource_type, props, "livenessProbe")


def _missing_probe(resource_type: str, props: Mapping[str, Any], field: str) -> Iterator[str]:
    """Serving containers (not init containers) without the probe `field`; unknown at preview is not missing."""
    for label, c in containers(pod_spec(resource_type, props), include_init=False):
        probe = key(c, field)
        if not is_unknown(probe) and not probe:
            yield f"{label}: no {field}"


@resource_rule(
    "resource-requests", category="reliability", level="mandatory", types=POD_TEMPLATE_TYPES,
    description="Containers request CPU and memory; GPU requests equal GPU limits.",
    why="The scheduler, cluster-autoscaler and bin-packing all work from requests; a pod without them "
        "lands anywhere and is evicted first.",
    params={"extended_resources": Param([_labels.GPU_RESOURCE, _labels.NEURON_RESOURCE],
                                        {"type": "array", "items": {"type": "string"}},
                                        "Extended resources whose request must equal the limit.")},
)
def resource_requests(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    for label, c in containers(spec, include_init=False):
        resources = key(c, "resources", {})
        if is_unknown(resources):
            continue
        requests, limits = key(resources, "requests", {}), key(resources, "limits", {})
        for name in ("cpu", "memory"):
            if not is_unknown(requests) and key(requests, name) is None:
                yield f"{label}: no {name} request"
        for name in ctx["extended_resources"]:
            lim, req = key(limits, name), key(requests, name)
            if lim is not None and req is not None and not is_unknown(lim) and not is_unknown(req) \
                    and str(lim) != str(req):
                yield f"{label}: {name} request {req} differs from limit {lim}"


def _min_replicas(resource_type: str, props: Mapping[str, Any]) -> tuple[str, Any]:
    if resource_type == DEPLOYMENT:
        return "spec.replicas", get(props, "spec.replicas")
    if resource_type == HPA:
        return "spec.minReplicas", get(props, "spec.minReplicas", 1)
    return "spec.minReplicaCount", get(props, "spec.minReplicaCount", 0)


@stack_rule(
    "min-replicas", category="reliability", level="mandatory",
    description="Production models keep at least two replicas: the autoscaler's minimum (or the Deployment's "
                "replicas when nothing scales it) plus any on-demand floor.",
    why="One replica means every rollout, node drain or spot reclaim is an outage; production does not "
        "scale to zero.",
    params={"environments": PROD_ONLY,
            "min_replicas": Param(2, {"type": "integer", "minimum": 1}, "Minimum replicas in those environments.")},
)
def min_replicas(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    scalers = {}
    for r in resources:
        if r.type in (HPA, SCALED_OBJECT):
            target = get(r.props, "spec.scaleTargetRef.name")
            if isinstance(target, str):
                scalers[target] = r
    models: dict[Any, list[Resource]] = {}
    for d in resources:
        if d.type != DEPLOYMENT or not in_envs(ctx.env_of(d.props), ctx["environments"]):
            continue
        model = key(labels(d.props), MODEL_LABEL)
        models.setdefault(model if isinstance(model, str) else d.urn, []).append(d)
    for model, deployments in models.items():
        total, parts, blame = 0.0, [], None
        for d in deployments:
            floor = is_on_demand_floor(d.props)
            scaler = None if floor else scalers.get(get(d.props, "metadata.name"))
            source = scaler or d
            field, value = _min_replicas(source.type, source.props) if scaler else ("spec.replicas", get(d.props, "spec.replicas", 1))
            if is_unknown(value) or not isinstance(value, (int, float)):
                break
            total += value
            parts.append(f"{source.name} {field} {value:g}")
            if not floor:
                blame = source
        else:
            if total < ctx["min_replicas"]:
                what = f"model {model}" if isinstance(model, str) and not model.startswith("urn:") else "deployment"
                yield ((blame or deployments[0]).urn,
                       f"{what} keeps at least {total:g} replica(s) ({'; '.join(parts)}); "
                       f"at least {ctx['min_replicas']} in {ctx.env_of(deployments[0].props)}")


@resource_rule(
    "zone-spread", category="reliability", level="mandatory", types={DEPLOYMENT},
    description="Production Deployments spread their replicas across availability zones.",
    why="Replicas packed into one zone go down together with it.",
    params={"environments": PROD_ONLY,
            "topology_key": Param(ZONE_KEY, {"type": "string"}, "Node label that identifies a zone.")},
)
def zone_spread(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not in_envs(ctx.env_of(props), ctx["environments"]):
        return
    spec = pod_spec(resource_type, props)
    constraints = key(spec, "topologySpreadConstraints")
    if is_unknown(spec) or is_unknown(constraints):
        return
    found = [key(c, "topologyKey") for c in as_list(constraints)]
    if any(is_unknown(k) for k in found):
        return
    if ctx["topology_key"] not in found:
        yield f"no topologySpreadConstraints on {ctx['topology_key']}"


def _is_zero(value: Any) -> bool:
    return str(value).strip() in ("0", "0%")


@resource_rule(
    "max-unavailable-zero", category="reliability", level="mandatory", types={DEPLOYMENT},
    description="Production rollouts surge new replicas before removing old ones (maxUnavailable 0).",
    why="With the default 25% a rollout removes serving capacity before the new replicas have loaded "
        "their model, which for GPU models takes minutes.",
    params={"environments": PROD_ONLY},
)
def max_unavailable_zero(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not in_envs(ctx.env_of(props), ctx["environments"]):
        return
    strategy = get(props, "spec.strategy", {})
    if is_unknown(strategy):
        return
    if key(strategy, "type") == "Recreate":
        yield "strategy is Recreate"
        return
    value = get(strategy, "rollingUpdate.maxUnavailable")
    if is_unknown(value):
        return
    if value is None or not _is_zero(value):
        shown = "unset (defaults to 25%)" if value is None else repr(value)
        yield f"strategy.rollingUpdate.maxUnavailable is {shown}; set it to 0"


def _match_labels(selector: Any) -> dict[str, Any] | None:
    ml = key(selector, "matchLabels")
    return dict(ml) if isinstance(ml, Mapping) and ml else None


def _namespace(props: Mapping[str, Any]) -> Any:
    return get(props, "metadata.namespace", "default")


@stack_rule(
    "pdb-required", category="reliability", level="mandatory",
    description="Every Deployment is covered by a PodDisruptionBudget that still allows evictions.",
    why="Node drains (upgrades, consolidation, spot) evict every replica at once without a PDB; a PDB "
        "that allows no eviction blocks upgrades instead.",
)
def pdb_required(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    pdbs = [r for r in resources if r.type == PDB]
    for pdb in pdbs:
        spec = get(pdb.props, "spec", {})
        if _is_zero(key(spec, "maxUnavailable", "")) or str(key(spec, "minAvailable", "")).strip() == "100%":
            yield pdb.urn, "PodDisruptionBudget allows no voluntary eviction; node drains will hang"
    # Per namespace: whether a PDB's selector is unknown (preview: give every Deployment the benefit of the doubt),
    # and each known selector under one of its labels, so a Deployment is matched against the PDBs that share a
    # label with its pods, not against every PDB of the stack.
    unknown: set[Any] = set()
    by_label: dict[tuple[Any, str, str], list[dict[str, Any]]] = {}
    for pdb in pdbs:
        ns = _hashable(_namespace(pdb.props))
        selector = get(pdb.props, "spec.selector")
        if is_unknown(selector) or is_unknown(key(selector, "matchLabels")):
            unknown.add(ns)
            continue
        wanted = _match_labels(selector)
        if wanted is not None:
            k = min(wanted)
            by_label.setdefault((ns, k, _hashable(wanted[k])), []).append(wanted)
    for d in resources:
        if d.type != DEPLOYMENT:
            continue
        pod_labels = get(d.props, "spec.template.metadata.labels")
        if is_unknown(pod_labels) or not isinstance(pod_labels, Mapping):
            continue
        ns = _hashable(_namespace(d.props))
        covered = ns in unknown or any(
            all(pod_labels.get(k) == v for k, v in wanted.items())
            for lk, lv in pod_labels.items() for wanted in by_label.get((ns, lk, _hashable(lv)), ()))
        if not covered:
            yield d.urn, "no PodDisruptionBudget selects this Deployment's pods"


def _hashable(value: Any) -> Any:
    """`value` as a dict key: itself, or its JSON text when it is a list or a mapping (a malformed label value)."""
    try:
        hash(value)
        return value
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)


def _required_node_terms(spec: Any) -> list[Mapping[str, Any]]:
    terms = get(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    exprs: list[Mapping[str, Any]] = []
    for term in as_list(terms):
        exprs.extend(e for e in as_list(key(term, "matchExpressions")) if isinstance(e, Mapping))
    return exprs


def _required_values(spec: Any, label: str) -> set[str] | None:
    """Values a pod spec requires for a node label (nodeSelector or required In-affinity), None if free."""
    selector = key(spec, "nodeSelector")
    if isinstance(selector, Mapping) and label in selector:
        return {str(selector[label])}
    for expr in _required_node_terms(spec):
        if expr.get("key") == label and expr.get("operator") == "In":
            return {str(v) for v in as_list(expr.get("values"))}
    return None


def _on_spot(d: Resource, group_capacity: Mapping[str, str]) -> bool:
    if key(annotations_of(d.props), CAPACITY_LABEL) == "spot":
        return True
    spec = pod_spec(d.type, d.props)
    if _required_values(spec, CAPACITY_TYPE_LABEL) == {"SPOT"}:
        return True
    groups = (_required_values(spec, NODE_GROUP_LABEL) or set()) | (_required_values(spec, NODE_POOL_LABEL) or set())
    return any(group_capacity.get(g) == "SPOT" for g in groups)


@stack_rule(
    "spot-on-demand-floor", category="reliability", level="mandatory",
    description="Production models on spot keep an on-demand floor: a companion Deployment pinned to "
                "ON_DEMAND nodes with at least the configured replicas.",
    why="Spot capacity can be reclaimed for a whole instance family at once; the floor keeps the API up "
        "while cluster-autoscaler replaces the spot nodes.",
    params={"environments": PROD_ONLY,
            "min_on_demand_replicas": Param(1, {"type": "integer", "minimum": 1},
                                            "Replicas the on-demand companion keeps at least.")},
)
def spot_on_demand_floor(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    group_capacity: dict[str, Any] = {}
    for g in resources:
        if g.type == NODE_GROUP:
            capacity = get(g.props, "capacityType", "ON_DEMAND")
            for label in (NODE_GROUP_LABEL, NODE_POOL_LABEL):  # a pool is spot when any of its groups is
                name = key(get(g.props, "labels"), label)
                if isinstance(name, str) and group_capacity.get(name) != "SPOT":
                    group_capacity[name] = capacity
    deployments = [r for r in resources if r.type == DEPLOYMENT]
    floors_of: dict[tuple[Any, Any], list[Resource]] = {}  # (model, namespace) -> its on-demand floor Deployments
    for f in deployments:
        if is_on_demand_floor(f.props):
            model = _hashable(key(labels(f.props), MODEL_LABEL))
            floors_of.setdefault((model, _hashable(_namespace(f.props))), []).append(f)
    for d in deployments:
        if is_on_demand_floor(d.props) or not in_envs(ctx.env_of(d.props), ctx["environments"]):
            continue
        if not _on_spot(d, group_capacity):
            continue
        model = key(labels(d.props), MODEL_LABEL)
        floors = floors_of.get((_hashable(model), _hashable(_namespace(d.props))), [])
        if not floors:
            yield d.urn, f"model {model!r} runs on spot without an on-demand companion Deployment " \
                         f"(label {CAPACITY_LABEL}=on-demand)"
            continue
        for f in floors:
            replicas = get(f.props, "spec.replicas")
            if isinstance(replicas, (int, float)) and replicas < ctx["min_on_demand_replicas"]:
                yield f.urn, f"on-demand floor has {replicas:g} replicas; at least {ctx['min_on_demand_replicas']}"
            pinned = _required_values(pod_spec(f.type, f.props), CAPACITY_TYPE_LABEL)
            if pinned != {"ON_DEMAND"}:
                yield f.urn, f"on-demand floor pods do not require node label {CAPACITY_TYPE_LABEL}=ON_DEMAND"


ACCELERATED_AMI_MARKERS = {"gpu": ("NVIDIA", "GPU"), "neuron": ("NEURON",)}


def instance_family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0].lower()


def accelerator_of(instance_type: str) -> str | None:
    """``gpu`` for g*/p* families, ``neuron`` for inf*/trn*, else None."""
    family = instance_family(instance_type)
    if family.startswith(("inf", "trn")):
        return "neuron"
    if family[:1] in ("g", "p") and len(family) > 1 and (family[1].isdigit() or family.startswith("gr")):
        return "gpu"
    return None


def accelerated(props: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """A node group's (or Karpenter NodePool's) instance types (the known ones) and the accelerator kinds among them."""
    listed = get(props, "instanceTypes")
    if listed is None:
        listed = node_pool_requirement(props, _labels.INSTANCE_TYPE_LABEL)
    types = [t for t in as_list(listed) if isinstance(t, str)]
    return types, {k for k in (accelerator_of(t) for t in types) if k}


# Karpenter (cluster.provisioner: karpenter): NodePools and the controller's interruption queue.

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
SPOT_WARNING = "EC2 Spot Instance Interruption Warning"
CAPACITY_TYPE_KEY = "karpenter.sh/capacity-type"


def node_pool_requirement(props: Mapping[str, Any], label: str) -> Any:
    """Values a NodePool's template admits for `label` through an `In` requirement; None when no `In` requirement
    names it (no requirement, or NotIn/Exists/DoesNotExist), UNKNOWN when the requirements are unknown (preview)."""
    reqs = get(props, "spec.template.spec.requirements")
    if is_unknown(reqs):
        return UNKNOWN
    for req in as_list(reqs):
        if is_unknown(req) or is_unknown(key(req, "key")):
            return UNKNOWN
        if key(req, "key") == label and key(req, "operator") == "In":
            values = key(req, "values")
            return UNKNOWN if is_unknown(values) or any(is_unknown(v) for v in as_list(values)) else as_list(values)
    return None


def allows_spot(props: Mapping[str, Any]) -> bool | None:
    """Whether a NodePool may launch spot; None when unknown. Without a karpenter.sh/capacity-type requirement
    Karpenter reads the key as Exists (every capacity type) and prefers reserved, then spot, then on-demand
    (kubernetes-sigs/karpenter v1.14.1 `pkg/scheduling/requirements.go` Requirements.Get; aws/karpenter-provider-aws
    v1.14.1 `pkg/providers/instance/instance.go` getCapacityType)."""
    reqs = get(props, "spec.template.spec.requirements")
    if is_unknown(reqs):
        return None
    for req in as_list(reqs):
        if is_unknown(req) or is_unknown(key(req, "key")) or is_unknown(key(req, "operator")):
            return None
        if key(req, "key") != CAPACITY_TYPE_KEY:
            continue
        op, values = key(req, "operator"), key(req, "values")
        if is_unknown(values):
            return None
        if op == "In":
            return "spot" in as_list(values)
        if op == "NotIn":
            return "spot" not in as_list(values)
        return op == "Exists"  # DoesNotExist: no node can carry a capacity type, so none is launched
    return True


def _is_karpenter(release: Resource) -> bool:
    chart = get(release.props, "chart")
    return isinstance(chart, str) and chart.rstrip("/").endswith("karpenter")


@stack_rule(
    "karpenter-interruption-queue", category="reliability", level="mandatory",
    description="Where a Karpenter NodePool may launch spot, the controller reads an interruption queue fed by "
                "the spot interruption warning rule.",
    why="Without it Karpenter learns of a reclaim when the node disappears: two minutes of notice are lost and "
        "every pod on the node dies without its preStop hook or grace period.",
)
def karpenter_interruption_queue(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    spot_pools = [r for r in resources if r.type == NODE_POOL and allows_spot(r.props)]
    if not spot_pools:
        return
    releases = [r for r in resources if r.type == HELM_RELEASE and _is_karpenter(r)]
    for release in releases:
        queue = get(release.props, "values.settings.interruptionQueue")
        if not is_unknown(queue) and not queue:
            yield release.urn, "settings.interruptionQueue is empty: spot interruption notices are never read"
    patterns = [get(r.props, "eventPattern") for r in resources if r.type == EVENT_RULE]
    if any(is_unknown(p) for p in patterns):
        return
    if not any(isinstance(p, str) and SPOT_WARNING in p for p in patterns):
        for pool in spot_pools:
            yield pool.urn, f"NodePool allows spot but no EventBridge rule forwards '{SPOT_WARNING}' events"


@resource_rule(
    "nodepool-disruption-budget", category="reliability", level="mandatory", types={NODE_POOL},
    description="Production NodePools set a disruption budget no larger than a small share of their nodes.",
    why="Consolidation, drift and expiry drain nodes in parallel up to the budget; an unbounded budget can take "
        "most of a model's replicas down at once.",
    params={"environments": PROD_ONLY,
            "max_nodes_percent": Param(10, {"type": "integer", "minimum": 0, "maximum": 100},
                                       "Largest budget as a share of a NodePool's nodes."),
            "max_nodes": Param(2, {"type": "integer", "minimum": 0},
                               "Largest budget given as a node count.")},
)
def nodepool_disruption_budget(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not in_envs(ctx.env_of(props), ctx["environments"]):
        return
    budgets = get(props, "spec.disruption.budgets")
    if is_unknown(budgets):
        return
    if not as_list(budgets):
        yield "spec.disruption.budgets is not set (Karpenter's default allows 10% of nodes, implicitly)"
        return
    for b in as_list(budgets):
        nodes = key(b, "nodes")
        if is_unknown(nodes) or key(b, "schedule"):  # a scheduled window is a deliberate exception
            continue
        text = str(nodes).strip()
        if text.endswith("%"):
            if not text[:-1].isdigit() or int(text[:-1]) > ctx["max_nodes_percent"]:
                yield f"disruption budget nodes={text}; at most {ctx['max_nodes_percent']}%"
        elif not text.isdigit() or int(text) > ctx["max_nodes"]:
            yield f"disruption budget nodes={text}; at most {ctx['max_nodes']} nodes"


# EC2NodeClass alias families whose AMI Karpenter resolves to a variant with each accelerator's drivers
# (aws/karpenter-provider-aws v1.14.1, pkg/providers/amifamily/{al2023,al2,bottlerocket,windows}.go: al2023 and al2
# map nvidia and neuron variants, bottlerocket its -nvidia images and its standard x86_64 image for neuron; the
# windows families resolve one Windows Server image with no accelerator variant).
ACCELERATED_ALIAS_FAMILIES = {"gpu": ("al2", "al2023", "bottlerocket"), "neuron": ("al2", "al2023", "bottlerocket")}


def _node_group_ami(props: Mapping[str, Any]) -> Iterator[str]:
    types = get(props, "instanceTypes")
    ami = get(props, "amiType")
    if is_unknown(types) or is_unknown(ami):
        return
    _, kinds = accelerated(props)
    if len(kinds) != 1:
        return
    kind = kinds.pop()
    if ami is None and get(props, "launchTemplate"):
        return  # a custom AMI in the launch template; its drivers are not visible here
    if ami is None or not any(m in str(ami).upper() for m in ACCELERATED_AMI_MARKERS[kind]):
        yield f"{kind} instance types {as_list(types)} with amiType {ami!r}; use an accelerated AMI type"


def _node_pool_ami(props: Mapping[str, Any], classes: Mapping[str, Any]) -> Iterator[str]:
    """An accelerated NodePool's EC2NodeClass (by nodeClassRef) selects its AMI by an alias whose family has the
    accelerator's variant. AMIs chosen by id, name, tags or SSM parameter are custom: their drivers are not visible."""
    _, kinds = accelerated(props)
    ref = get(props, "spec.template.spec.nodeClassRef.name")
    if not kinds or not isinstance(ref, str) or ref not in classes:
        return
    terms = classes[ref]
    if is_unknown(terms) or any(is_unknown(t) or is_unknown(key(t, "alias")) for t in as_list(terms)):
        return
    aliases = [key(t, "alias") for t in as_list(terms) if isinstance(key(t, "alias"), str)]
    if not aliases:
        return
    family = aliases[0].split("@", 1)[0]
    for kind in sorted(kinds):
        if family not in ACCELERATED_ALIAS_FAMILIES[kind]:
            yield (f"{kind} instance types with EC2NodeClass {ref!r} (amiSelectorTerms alias {aliases[0]!r}): Karpenter "
                   f"has no {kind} AMI variant for {family}; use one of {', '.join(ACCELERATED_ALIAS_FAMILIES[kind])}")


@stack_rule(
    "gpu-ami-type", category="reliability", level="mandatory",
    description="Accelerated node groups use an accelerated AMI (NVIDIA or Neuron drivers); accelerated NodePools "
                "launch from an EC2NodeClass whose AMI alias family has the accelerator's variant.",
    why="A GPU instance on the standard AMI boots, joins, and then cannot run a single GPU pod.",
)
def gpu_ami_type(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    classes: dict[str, Any] = {}
    for r in resources:
        name = get(r.props, "metadata.name")
        if r.type == NODE_CLASS and isinstance(name, str):
            classes[name] = get(r.props, "spec.amiSelectorTerms")
    for r in resources:
        if r.type == NODE_GROUP:
            yield from ((r.urn, m) for m in _node_group_ami(r.props))
        elif r.type == NODE_POOL:
            yield from ((r.urn, m) for m in _node_pool_ami(r.props, classes))


RELEASE = "kubernetes:helm.sh/v3:Release"
#: Helm charts whose controllers add nodes for pending pods: cluster-autoscaler scales the managed node groups,
#: Karpenter launches nodes for them from its NodePools.
NODE_AUTOSCALER_CHARTS = ("cluster-autoscaler", "karpenter")


def _chart_name(props: Mapping[str, Any]) -> str:
    chart = key(props, "chart", "")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else ""


@stack_rule(
    "node-group-autoscaled", category="reliability", level="advisory",
    description="A managed node group that starts at zero nodes (minSize 0) has something in the stack that adds "
                "nodes for pending pods: a cluster-autoscaler or Karpenter release, or Karpenter NodePools.",
    why="Nothing else starts a node in a group at size 0: without an autoscaler the group stays empty and its pods "
        "stay Pending for ever, while the plan and `pulumi up` both succeed.",
    params={"external_autoscaler": Param(False, {"type": "boolean"},
                                         "The cluster's autoscaler runs outside this stack (a program that adds node "
                                         "groups to a cluster it did not build): the rule passes.")},
)
def node_group_autoscaled(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[str | None, str]]:
    if ctx["external_autoscaler"]:
        return
    if any(r.type == NODE_POOL or (r.type == RELEASE and _chart_name(r.props) in NODE_AUTOSCALER_CHARTS)
           for r in resources):
        return
    for r in resources:
        if r.type != NODE_GROUP:
            continue
        lo = get(r.props, "scalingConfig.minSize")
        if isinstance(lo, (int, float)) and not isinstance(lo, bool) and lo == 0:
            name = get(r.props, "nodeGroupName", r.name)
            yield r.urn, (f"node group {name} starts at 0 nodes (scalingConfig.minSize 0) and nothing in this stack "
                          "adds nodes (no cluster-autoscaler or Karpenter release, no NodePool): its pods would stay "
                          "Pending. Add a ClusterAutoscaler, raise min_size, or, when the cluster's autoscaler runs "
                          "outside this stack, set {\"node-group-autoscaled\": {\"external_autoscaler\": true}} in the "
                          "policy config")
