"""The planner's node-group design for stacks that declare no node groups (modelstack.planner.design)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from modelstack.capacity import pricing
from modelstack.capacity.optimizer import SPOT
from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError
from modelstack.planner import design
from modelstack.planner.capacity import plan_capacity

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "prod")
TODAY = date(2026, 11, 22)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"


def models_only(env: str, mutate=None) -> dict:
    """A shipped stack with its node groups and every model's node_group left out."""
    vals = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
    p = vals[CONFIG_KEY]
    p.pop("node_groups", None)
    for m in p["models"].values():
        m.pop("node_group", None)
    if mutate:
        mutate(p)
    return vals


def plan(env: str, mutate=None):
    platform = load_platform(env, models_only(env, mutate))
    return platform, plan_capacity(platform, TODAY)


def model(cpu="1", memory="2Gi", lo=1, hi=4, **compute):
    auto = {"min_replicas": lo, "max_replicas": hi}
    if lo == 0:
        auto["scale_to_zero"] = True
    return {"image": IMAGE, "compute": {"cpu": cpu, "memory": memory, **compute}, "autoscaling": auto}


@pytest.mark.parametrize("env", ENVS)
def test_models_only_stacks_get_a_system_group_and_every_model_a_designed_group(env):
    p, cap = plan(env)
    cat = pricing.catalog()
    assert cap.designed and all(g.designed for g in cap.groups)
    system = [g for g in cap.groups if g.kind == "system"]
    assert len(system) == 1 and system[0].capacity_type == "ON_DEMAND"
    # The designed floor (one node in dev, one per zone elsewhere), or more when the add-ons need more.
    assert system[0].min_size == max(1 if env == "dev" else p.config.cluster.vpc.az_count, cap.system.nodes)
    assert set(cap.placements) == set(p.config.models)
    cap_nodes = design.MAX_NODES_PER_GROUP[env]
    for g in cap.groups:
        # Our own policies hold on the designed groups: the size cap and the accelerated families.
        assert g.max_size <= cap_nodes and g.nodes_max <= g.max_size
        for t in g.instance_types:
            if cat[t].is_gpu:
                assert cat[t].family in design.ACCELERATED_FAMILIES[env]
        assert g.reason
    for m, pl in cap.placements.items():
        group = next(g for g in cap.groups if g.name == pl.node_group)
        assert m in group.models
        # GPU models on GPU groups, CPU models off them.
        assert (group.kind == "gpu") == bool(p.config.models[m].compute.gpu)


def test_prod_spot_groups_get_an_on_demand_fallback_and_floor_as_declared_groups_do():
    _, cap = plan("prod")
    spot = [g for g in cap.groups if g.capacity_type == SPOT]
    assert spot
    for g in spot:
        fb = next(f for f in cap.groups if f.name == f"{g.name}-on-demand")
        assert (fb.capacity_type, fb.pool, fb.priority) == ("ON_DEMAND", g.pool, g.priority - 1)
    assert all(pl.spot and pl.on_demand_base >= 1 for m, pl in cap.placements.items()
               if not load_platform("prod", models_only("prod")).config.models[m].autoscaling.scale_to_zero)


def test_dev_is_spot_without_fallback_and_spot_false_is_all_on_demand():
    _, cap = plan("dev")
    assert {g.capacity_type for g in cap.groups if g.models} == {SPOT}
    assert not any(g.name.endswith("-on-demand") for g in cap.groups)
    assert all(pl.on_demand_base == 0 for pl in cap.placements.values())
    _, od = plan("dev", lambda p: p.update(capacity={"spot": False}))
    assert {g.capacity_type for g in od.groups} == {"ON_DEMAND"}
    assert od.cost_inputs.on_demand_design is None


def test_the_size_cap_steers_the_shape_instead_of_failing():
    # 90 on-demand replicas of 1 CPU (1.1 with the proxy): on the cheapest shape per replica that is well over
    # dev's cap of 10 nodes: a larger shape is chosen.
    def one_model(p, **capacity):
        p["models"] = {"api": model("1", "2Gi", 1, 90)}
        p.pop("traffic_splits", None)
        p["capacity"] = {"spot": False, **capacity}
    _, wide = plan("dev", lambda p: one_model(p, max_nodes_per_group=40))
    uncapped = next(g for g in wide.groups if g.models == ("api",))
    assert uncapped.nodes_max > 10
    _, cap = plan("dev", one_model)
    g = next(g for g in cap.groups if g.models == ("api",))
    assert g.nodes_max <= 10 and g.max_size <= 10
    assert pricing.catalog()[g.instance_types[0]].vcpu > pricing.catalog()[uncapped.instance_types[0]].vcpu


def test_models_naming_one_group_share_it_and_max_groups_merges():
    def named(p):
        p["models"] = {"a": model("1", "2Gi", 1, 4), "b": model("4", "16Gi", 1, 4), "c": model("2", "30Gi", 1, 3)}
        p["models"]["a"]["node_group"] = p["models"]["b"]["node_group"] = "shared"
        p.pop("traffic_splits", None)
    _, cap = plan("dev", named)
    shared = next(g for g in cap.groups if g.name == "shared")
    assert set(shared.models) == {"a", "b"}
    assert cap.placements["a"].node_group == cap.placements["b"].node_group == "shared"

    def free(p):
        named(p)
        for m in p["models"].values():
            m.pop("node_group", None)
    _, loose = plan("dev", free)
    _, one = plan("dev", lambda p: (free(p), p.update(capacity={"max_groups": 1})))
    model_groups = [g for g in one.groups if g.models]
    assert len(model_groups) == 1 and set(model_groups[0].models) == {"a", "b", "c"}
    assert len([g for g in loose.groups if g.models]) >= 1


def test_capacity_filters_steer_the_types():
    gpu = lambda p: p.update(capacity={"exclude_gpu_models": ["t4"], "families": ["m7i", "g5", "g6", "g6e"]})  # noqa: E731
    _, cap = plan("dev", gpu)
    cat = pricing.catalog()
    types = {t for g in cap.groups for t in g.instance_types}
    assert all(cat[t].family in ("m7i", "g5", "g6", "g6e") for t in types)
    assert not any((cat[t].gpu_model or "").lower() == "t4" for t in types)


def test_a_model_gpu_model_is_honoured():
    def pinned(p):
        p["models"] = {"whisper": model("3", "12Gi", 1, 4, gpu=1, gpu_models=["l4"])}
        p.pop("traffic_splits", None)
    _, cap = plan("dev", pinned)
    g = next(g for g in cap.groups if g.models == ("whisper",))
    cat = pricing.catalog()
    assert {cat[t].gpu_model.lower() for t in g.instance_types} == {"l4"}


@pytest.mark.parametrize("capacity,expected", [
    ({"families": ["m99"]}, "modelstack:platform.capacity.families: got 'm99'; allowed: instance families in the price "
                            "table, e.g. m7i, c7a, g6, g5"),
    ({"exclude_gpu_models": ["b200"]}, "modelstack:platform.capacity.exclude_gpu_models: got 'b200'; allowed: GPU "
                                       "models in the price table: "),
    ({"system_instance_types": ["g5.xlarge"]}, "modelstack:platform.capacity.system_instance_types: got 'g5.xlarge'; "
                                               "allowed: instance types without accelerators"),
    ({"spot": False, "on_demand_fallback": True}, "modelstack:platform.capacity.on_demand_fallback: got true with spot: "
                                                  "false; allowed: on_demand_fallback only with spot capacity"),
    ({"weight_at_min": 0}, "modelstack:platform.capacity.weight_at_min: got 0; allowed: a number > 0"),
])
def test_bad_capacity_sections_are_reported_exactly(capacity, expected):
    with pytest.raises(ConfigError) as e:
        plan("dev", lambda p: p.update(capacity=capacity))
    assert any(i.render().startswith(expected) for i in e.value.issues), [i.render() for i in e.value.issues]


def test_capacity_next_to_declared_node_groups_is_an_error():
    vals = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    vals[CONFIG_KEY]["capacity"] = {"spot": True}
    with pytest.raises(ConfigError) as e:
        plan_capacity(load_platform("dev", vals), TODAY)
    assert [i.render() for i in e.value.issues] == [
        "modelstack:platform.capacity: got a capacity section next to node_groups; allowed: capacity only in a stack "
        "without node_groups (the planner designs the groups); or leave it out"]


def test_a_model_no_allowed_type_fits_is_reported_on_its_compute():
    def huge(p):
        p["models"] = {"big": model("2", "8Gi", 1, 2, gpu=8, min_gpu_memory_gib=80)}
        p.pop("traffic_splits", None)
    with pytest.raises(ConfigError) as e:
        plan("dev", huge)
    (issue,) = e.value.issues
    assert issue.path == f"{CONFIG_KEY}.models.big.compute"
    assert "environment 'dev'; widen capacity.families or capacity.gpu_models, or ask for less" in issue.allowed


def test_declared_layout_gets_advice_with_both_figures_when_the_design_is_over_10_percent_cheaper():
    vals = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    p = vals[CONFIG_KEY]
    # One cpu and one gpu group for every model, as a new user writes it: one GPU type large enough for the
    # largest model serves them all.
    p["node_groups"] = {"system": p["node_groups"]["system"],
                        "cpu": {"kind": "cpu", "spot": True, "max_size": 10},
                        "gpu": {"kind": "gpu", "spot": True, "max_size": 10}}
    p["models"]["image-classifier"]["node_group"] = "gpu"
    p["models"]["llm-chat"]["node_group"] = "gpu"
    cap = plan_capacity(load_platform("dev", vals), TODAY)
    advice = [n for n in cap.notes if n.startswith("the planner's own design")]
    assert len(advice) == 1
    auto, declared = [float(x.split("/h")[0]) for x in advice[0].split("$")[1:3]]
    assert auto < 0.9 * declared
    assert "Leave out node_groups (and the models' node_group) to use it" in advice[0]
    _, designed = plan("dev")
    assert not any(n.startswith("the planner's own design") for n in designed.notes)


def test_a_model_cannot_name_the_designed_system_group():
    def system(p):
        p["models"]["sentiment"]["node_group"] = "system"
    with pytest.raises(ConfigError) as e:
        plan("dev", system)
    assert [i.render() for i in e.value.issues] == [
        "modelstack:platform.models.sentiment.node_group: got 'system'; allowed: another name: the designed system "
        "group runs only platform add-ons"]


def test_advice_keeps_the_declared_gpu_choices():
    # prod's gpu group allows a10g and l4 only: the design it is compared with may not put the classifier on a T4.
    vals = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    platform = load_platform("prod", vals)
    cap = plan_capacity(platform, TODAY)
    assert not any("g4dn" in n for n in cap.notes)
    vals[CONFIG_KEY]["node_groups"]["gpu"]["selection"]["gpu_models"].append("t4")
    cap = plan_capacity(load_platform("prod", vals), TODAY)
    (advice,) = [n for n in cap.notes if n.startswith("the planner's own design")]
    assert "image-classifier on g4dn.xlarge" in advice


def test_a_designed_floor_that_holds_min_replicas_reaches_the_placements_and_says_why():
    # The pair of tests/capacity/test_optimizer.py's raised floor, as a models-only staging stack with spot and a
    # fallback: "wide" asks no floor, and its placement (the ModelAPI's on-demand Deployment) gets its min of 2.
    def mutate(p):
        big = model("8", "192Gi", 2, 3, gpu=4)
        big["autoscaling"]["on_demand_base"] = 2
        p["models"] = {"big": big, "wide": model("16", "128Gi", 2, 3, gpu=4)}
        p.pop("traffic_splits", None)
        p["capacity"] = {"spot": True, "on_demand_fallback": True}

    _, cap = plan("staging", mutate)
    assert (cap.placements["big"].on_demand_base, cap.placements["wide"].on_demand_base) == (2, 2)
    group = next(g for g in cap.groups if "wide" in g.models and g.capacity_type == SPOT)
    assert "on-demand floor raised to the min replicas of wide 2 (on_demand_base 0)" in " ".join(group.reason.split())
    floor = next(g for g in cap.groups if g.name == f"{group.name}-on-demand")
    assert (floor.instance_types, floor.nodes_min) == (("g4dn.metal",), 2)
    # Without the fallback there is no floor to raise: dev's spot design keeps every base at 0.
    _, dev = plan("dev", lambda p: (mutate(p), p.update(capacity={"spot": True})))
    assert all(pl.on_demand_base == 0 for pl in dev.placements.values())


def test_weight_at_min_trades_the_ceiling_for_a_cheaper_steady_state():
    # The raised-floor pair above with "wide" up to 4 replicas. At 1:1 the two keep groups of their own ("big" on an
    # on-demand g6.48xlarge floor, "wide" on spot g4dn: $16.17/h at min, $21.92/h at max); weighing min 3 times,
    # they share one group whose on-demand floor holds both mins on two g4dn.metal: $15.65/h at min, $23.32/h at max.
    def mutate(weight):
        def m(p):
            p.pop("traffic_splits", None)
            big = model("8", "192Gi", 2, 3, gpu=4)
            big["autoscaling"]["on_demand_base"] = 2
            p["models"] = {"big": big, "wide": model("16", "128Gi", 2, 4, gpu=4)}
            p["capacity"] = {"spot": True, "on_demand_fallback": True}
            if weight is not None:
                p["capacity"]["weight_at_min"] = weight
        return m

    def ends(cap):
        chosen = [g.choice for g in cap.groups if g.models and g.choice is not None]  # floors included
        return cap, sum(c.usd_per_hour_min for c in chosen), sum(c.usd_per_hour_max for c in chosen)

    even, lo1, hi1 = ends(plan("staging", mutate(1))[1])
    steady, lo3, hi3 = ends(plan("staging", mutate(3))[1])
    assert even.placements["wide"].on_demand_base == 0 and steady.placements["wide"].on_demand_base == 2
    assert even.placements["big"].node_group != even.placements["wide"].node_group
    assert steady.placements["big"].node_group == steady.placements["wide"].node_group
    assert lo3 < lo1 and hi3 > hi1
    assert 3 * lo3 + hi3 < 3 * lo1 + hi1 and lo1 + hi1 < lo3 + hi3  # each the cheaper by its own objective
    gpu = next(g for g in steady.groups if "wide" in g.models and g.capacity_type == SPOT)
    assert "at 3×cost at min + 1×cost at max replicas" in " ".join(gpu.reason.split())
    # The default weighs min twice: 2 × 16.17 + 21.92 < 2 × 15.65 + 23.32, so the groups stay apart, said so.
    default, lo, hi = ends(plan("staging", mutate(None))[1])
    assert (lo, hi) == (lo1, hi1) and default.placements["wide"].on_demand_base == 0
    assert 2 * lo1 + hi1 < 2 * lo3 + hi3
    gpu = next(g for g in default.groups if "wide" in g.models and g.capacity_type == SPOT)
    assert "at 2×cost at min + 1×cost at max replicas" in " ".join(gpu.reason.split())


def test_async_workers_that_scale_from_zero_get_no_floor_raised_nor_a_prod_default():
    # An async model without min_replicas runs its workers from zero (program.queue_api_args): the design counts
    # none at min, so it neither raises a floor for them (a floor of workers that scale to zero is refused by
    # ModelAPI) nor, in prod, gives them the default floor of 1.
    def mutate(p):
        p.pop("traffic_splits", None)
        big = model("8", "192Gi", 2, 3, gpu=4)
        big["autoscaling"]["on_demand_base"] = 2
        wide = model("16", "128Gi", 1, 3, gpu=4)
        del wide["autoscaling"]["min_replicas"]
        wide["kind"] = "async"
        p["models"] = {"big": big, "wide": wide}
        p["capacity"] = {"spot": True, "on_demand_fallback": True}

    for env in ("staging", "prod"):
        platform, cap = plan(env, mutate)
        assert platform.config.models["wide"].running_min_replicas == 0
        assert cap.placements["wide"].on_demand_base == 0, env
