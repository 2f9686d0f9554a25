"""Cost arithmetic against hand-computed numbers from literal CSV rows and the documented constants."""

from __future__ import annotations

import pytest

from modelstack.capacity.cost import (
    CostInputs,
    LoadBalancer,
    NodeGroupCost,
    RootVolume,
    estimate,
    node_groups_from_choice,
    root_volume_usd_per_month,
)
from modelstack.capacity.optimizer import GroupSelection, ModelDemand, choose_group
from modelstack.capacity.pricing import PricingError
from modelstack.capacity.sizing import Requests

# Literal inputs: g5.xlarge 1.006 $/h, 59% savings; g6.xlarge 0.8048 $/h, 49%; m6i.large 0.096 $/h.
# gp3 $0.08/GB-month; +$0.005 per IOPS-month above 3000; +$0.04 per MB/s-month above 125; 730 h/month.
GP3_50 = 50 * 0.08 / 730


def test_gp3_extra_iops_and_throughput_are_charged():
    base = RootVolume(100, "gp3")
    fast = RootVolume(100, "gp3", iops=6000, throughput_mbps=250)
    assert root_volume_usd_per_month(base) == pytest.approx(8.0)
    assert root_volume_usd_per_month(fast) == pytest.approx(8.0 + 3000 * 0.005 + 125 * 0.04)  # 28.0
    assert root_volume_usd_per_month(RootVolume(100, "gp3", iops=4000)) - 8.0 == pytest.approx(5.0)  # Cortex's was 0
    assert root_volume_usd_per_month(RootVolume(100, "gp2")) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="gp3 settings"):
        RootVolume(100, "gp2", iops=4000)


def test_on_demand_group_with_fixed_costs_hand_computed():
    inputs = CostInputs(
        region="us-east-1",
        node_groups=[NodeGroupCost("gpu", "g5.xlarge", "ON_DEMAND", 2, 5)],
        nat_gateways=2,
        load_balancers=[LoadBalancer("alb", "api"), LoadBalancer("nlb")],
        kms_keys=1,
    )
    est = estimate(inputs)
    fixed = 0.10 + 2 * 0.045 + 2 * 0.005 + 0.0225 + 0.0225 + 1.0 / 730
    assert est.usd_per_hour_min == pytest.approx(fixed + 2 * (1.006 + GP3_50))
    assert est.usd_per_hour_max == pytest.approx(fixed + 5 * (1.006 + GP3_50))
    assert est.usd_per_month_min == pytest.approx(est.usd_per_hour_min * 730)
    assert est.usd_per_month_max == pytest.approx((fixed + 5 * (1.006 + GP3_50)) * 730)
    resources = [r.resource for r in est.rows]
    assert resources == ["eks control plane", "nodegroup gpu", "ebs root volumes, nodegroup gpu", "nat gateways",
                         "public ipv4 addresses", "alb load balancers", "nlb load balancers", "kms keys"]


def test_spot_group_uses_mean_expected_spot_price_and_shows_on_demand():
    g = NodeGroupCost("gpu", "g5.xlarge", "SPOT", 0, 4, RootVolume(50), ("g5.xlarge", "g6.xlarge"))
    est = estimate(CostInputs("us-east-1", [g], control_planes=0))
    unit = (1.006 * (1 - 0.59) + 0.8048 * (1 - 0.49)) / 2
    row = est.rows[0]
    # The on-demand column is the mean over the same types as the spot mean, not the first type's price.
    assert row.unit_usd_per_hour_on_demand == pytest.approx((1.006 + 0.8048) / 2)
    assert row.unit_usd_per_hour_spot == pytest.approx(unit)
    assert (row.usd_per_hour_min, row.usd_per_hour_max) == (0.0, pytest.approx(4 * unit))
    assert est.on_demand_design_usd_per_hour_max is None  # no on-demand design given: no comparison line
    assert "all on-demand" not in est.render_table()


def test_spot_line_compares_with_the_on_demand_design_not_the_spot_types_at_on_demand_prices():
    spot = NodeGroupCost("gpu", "g5.xlarge", "SPOT", 0, 4, RootVolume(50), ("g5.xlarge", "g6.xlarge"))
    system = NodeGroupCost("system", "m6i.large", "ON_DEMAND", 1, 1, RootVolume(50))
    # The on-demand design packs the same replicas on 3 g6.xlarge nodes (its own choice).
    od = [system, NodeGroupCost("gpu-od", "g6.xlarge", "ON_DEMAND", 0, 3, RootVolume(50))]
    est = estimate(CostInputs("us-east-1", [system, spot], control_planes=0, on_demand_design=od))
    want = 1 * (0.096 + GP3_50) + 3 * (0.8048 + GP3_50)
    assert est.on_demand_design_usd_per_hour_max == pytest.approx(want)
    saving = (1 - est.usd_per_hour_max / want) * 100
    assert (f"all on-demand (the same models, node groups designed for on-demand), the maximum would be ${want:,.2f} "
            f"per hour (spot saves {saving:.0f}% at max)") in " ".join(est.render_table().split())


def test_nodes_by_type_recompute_each_group_from_the_price_table():
    spot = NodeGroupCost("gpu", "g5.xlarge", "SPOT", 1, 4, RootVolume(50), ("g5.xlarge", "g6.xlarge"))
    od = NodeGroupCost("gpu-on-demand", "g6.xlarge", "ON_DEMAND", 1, 2, RootVolume(50))
    est = estimate(CostInputs("us-east-1", [spot, od], control_planes=0))
    j = est.to_json()["node_groups"]
    assert j["gpu"]["nodes_by_type"] == {"min": {"g5.xlarge/SPOT": 0.5, "g6.xlarge/SPOT": 0.5},
                                         "max": {"g5.xlarge/SPOT": 2.0, "g6.xlarge/SPOT": 2.0}}
    assert j["gpu-on-demand"]["nodes_by_type"] == {"min": {"g6.xlarge/ON_DEMAND": 1.0}, "max": {"g6.xlarge/ON_DEMAND": 2.0}}
    spot_price = {"g5.xlarge": 1.006 * (1 - 0.59), "g6.xlarge": 0.8048 * (1 - 0.49)}
    for name, group in j.items():
        for k in ("min", "max"):
            instances = sum(n * (spot_price[t.split("/")[0]] if t.endswith("/SPOT") else 0.8048)
                            for t, n in group["nodes_by_type"][k].items())
            volumes = sum(group["nodes_by_type"][k].values()) * GP3_50
            assert group["usd_per_hour"][k] == pytest.approx(instances + volumes, abs=1e-6)
            assert group["usd_per_hour_includes"] == ["instances", "root volumes"]


def test_extended_support_and_month_length():
    est = estimate(CostInputs("us-east-1", extended_support=True, hours_per_month=720))
    assert est.usd_per_hour_min == pytest.approx(0.60)
    assert est.usd_per_month_max == pytest.approx(0.60 * 720)
    assert estimate(CostInputs("us-east-1")).usd_per_month_min == pytest.approx(0.10 * 730)


def test_to_json_shape():
    est = estimate(CostInputs("us-east-1", [NodeGroupCost("cpu", "m6i.large", "ON_DEMAND", 1, 3)]))
    j = est.to_json()
    assert set(j) == {"usd_per_hour", "usd_per_month", "node_groups", "rows", "region", "prices", "currency", "sources", "assumptions"}
    assert set(j["usd_per_hour"]) == {"min", "max"} and set(j["usd_per_month"]) == {"min", "max"}
    assert j["node_groups"]["cpu"] == {
        "nodes": {"min": 1, "max": 3}, "instance_type": "m6i.large", "capacity_type": "ON_DEMAND",
        "nodes_by_type": {"min": {"m6i.large/ON_DEMAND": 1.0}, "max": {"m6i.large/ON_DEMAND": 3.0}},
        "usd_per_hour_includes": ["instances", "root volumes"],
        "usd_per_hour": {"min": round(0.096 + GP3_50, 6), "max": round(3 * (0.096 + GP3_50), 6)},
    }
    assert j["currency"] == "USD" and j["region"] == "us-east-1"
    assert any("730 hours per month" in a for a in j["assumptions"])
    assert any("karpenter" in s["source"] for s in j["sources"])


def test_render_table_ends_with_the_summary_line():
    est = estimate(CostInputs("us-east-1", [NodeGroupCost("cpu", "m6i.large", "ON_DEMAND", 1, 3)], nat_gateways=1))
    text = est.render_table()
    lo, hi = est.usd_per_hour_min, est.usd_per_hour_max
    assert f"your cluster will cost ${lo:,.2f} - ${hi:,.2f} per hour (${lo * 730:,.2f} - ${hi * 730:,.2f} per month)" in text
    assert "nodegroup cpu: m6i.large (on-demand)" in text
    assert text.splitlines()[0].startswith("aws resource")


def test_regions_without_prices_raise_or_are_flagged():
    with pytest.raises(PricingError, match="eu-west-1"):
        estimate(CostInputs("eu-west-1"))
    est = estimate(CostInputs("eu-west-1", fallback_to_us_east_1=True))
    assert est.flagged and "at us-east-1 prices" in est.render_table()
    assert any("not in the pricing data" in a for a in est.assumptions)


def test_unknown_instance_type_is_an_error():
    with pytest.raises(PricingError, match="'x1.huge' is not in the pricing data"):
        estimate(CostInputs("us-east-1", [NodeGroupCost("g", "x1.huge", "ON_DEMAND", 1, 1)]))


def test_choice_with_floor_becomes_two_node_groups():
    d = ModelDemand("llm", Requests.parse("3", "12Gi", gpu=1, gpu_models=("l4",)), 1, 5, on_demand_base=1)
    choice = choose_group(GroupSelection(spot=True), [d])
    groups = node_groups_from_choice("gpu", choice)
    assert [(g.name, g.capacity_type, g.nodes_min, g.nodes_max) for g in groups] == [
        ("gpu", "SPOT", 0, 4), ("gpu-on-demand", "ON_DEMAND", 1, 1)]
    est = estimate(CostInputs("us-east-1", groups, control_planes=0))
    assert est.usd_per_hour_max == pytest.approx(choice.usd_per_hour_max + 5 * GP3_50)


def test_managed_grafana_licences_and_amp_samples_hand_computed():
    from modelstack.capacity.cost import ManagedGrafanaCost

    m = ManagedGrafanaCost(editors=0, viewers=4, nodes_min=2, nodes_max=6, model_pods_min=1, model_pods_max=10,
                           scrape_interval_seconds=30, remote_write="all")
    est = estimate(CostInputs(region="us-east-1", control_planes=0, managed_grafana=m))
    rows = {r.resource: r for r in est.rows}
    # At least one editor licence per workspace ($9), viewers $5 each, per month.
    assert rows["managed grafana editor licences"].count_max == 1
    assert rows["managed grafana editor licences"].usd_per_hour_min == pytest.approx(9.0 / 730)
    assert rows["managed grafana viewer licences"].usd_per_hour_max == pytest.approx(4 * 5.0 / 730)
    # Series: 10,000 + 1,500 per node + 400 per model pod; a sample every 30 s; $0.90 per 10 million.
    lo, hi = 10_000 + 1_500 * 2 + 400 * 1, 10_000 + 1_500 * 6 + 400 * 10
    samples = rows["amp samples ingested"]
    assert samples.usd_per_hour_min == pytest.approx(lo * 120 * 0.90 / 1e7)
    assert samples.usd_per_hour_max == pytest.approx(hi * 120 * 0.90 / 1e7)
    assert est.usd_per_hour_max == pytest.approx(9.0 / 730 + 20.0 / 730 + hi * 120 * 0.90 / 1e7)
    assert any("amp active series assumed" in a for a in est.assumptions)
    # Provisioning into a workspace licensed elsewhere: only the samples are this stack's.
    est = estimate(CostInputs(region="us-east-1", control_planes=0,
                              managed_grafana=ManagedGrafanaCost(viewers=4, workspaces=0)))
    assert [r.resource for r in est.rows] == ["amp samples ingested"]
    # Only the dashboards' metrics: 200 + 5 per node + 40 per model pod.
    only = ManagedGrafanaCost(nodes_max=6, model_pods_max=10, scrape_interval_seconds=30)
    samples = {r.resource: r for r in estimate(CostInputs(region="us-east-1", control_planes=0, managed_grafana=only)).rows}
    assert samples["amp samples ingested"].usd_per_hour_max == pytest.approx((200 + 5 * 6 + 40 * 10) * 120 * 0.90 / 1e7)
    with pytest.raises(ValueError, match="remote_write"):
        ManagedGrafanaCost(remote_write="some")
