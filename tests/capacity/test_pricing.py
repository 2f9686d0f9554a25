"""Pricing data: the CSV is read faithfully, spot arithmetic follows the documented formula, regions are honest."""

from __future__ import annotations

import pytest

from modelstack.capacity import pricing
from modelstack.capacity.pricing import PricingError, catalog, interruption_rank, price_book, spot_usd_per_hour


def test_catalog_has_every_csv_row_and_is_cached():
    cat = catalog()
    rows = pricing.read_text("ec2_instances.csv").strip().splitlines()[1:]
    assert len(cat) == len(rows) and [r.split(",", 1)[0] for r in rows] == list(cat)
    assert catalog() is cat


def test_the_wider_table_prices_the_families_cortex_users_name():
    cat = catalog()
    for t in ("m5d.large", "m5n.xlarge", "c5n.2xlarge", "t3a.medium", "r5.large", "i4i.xlarge", "c7gn.large",
              "inf1.xlarge", "inf2.xlarge", "trn1.2xlarge", "trn1n.32xlarge"):
        assert cat[t].on_demand_usd_per_hour and cat[t].alloc_cpu_millicores and cat[t].max_pods, t
    # Literal values from the inf1.6xlarge and trn1.2xlarge rows (Karpenter reference page, price table).
    inf1 = cat["inf1.6xlarge"]
    assert (inf1.accelerator_count, inf1.accelerator_model, inf1.neuroncores, inf1.on_demand_usd_per_hour) == (
        4, "inferentia", 16, 1.18)
    trn1 = cat["trn1.2xlarge"]
    assert (trn1.accelerator_count, trn1.accelerator_model, trn1.neuroncores, trn1.gpu_count) == (1, "trainium", 2, 0)


def test_known_unpriced_types_are_real_types_the_table_lacks():
    known = pricing.known_unpriced()
    assert {"trn2.48xlarge", "m5d.metal", "c5n.9xlarge", "x2gd.4xlarge"} <= known
    assert not known & set(catalog())
    assert "m7i.lage" not in known


def test_g5_xlarge_row_is_read_as_written():
    # Literal values from data/ec2_instances.csv.
    g = catalog()["g5.xlarge"]
    assert (g.family, g.arch, g.vcpu, g.memory_gib) == ("g5", "amd64", 4, 16.0)
    assert (g.gpu_count, g.gpu_model, g.gpu_memory_gib) == (1, "a10g", 22.352)
    assert (g.max_pods, g.alloc_cpu_millicores, g.alloc_memory_gib) == (58, 3920, 13.83)
    assert g.on_demand_usd_per_hour == 1.006
    assert g.spot_savings_pct["us-east-1"] == 59 and g.spot_interruption["us-east-1"] == ">20%"
    assert g.spot_savings_pct["eu-west-1"] == 56 and g.spot_interruption["eu-west-1"] == "10-15%"


def test_empty_cells_become_none_not_zero():
    cat = catalog()
    assert cat["p5e.48xlarge"].on_demand_usd_per_hour is None
    assert cat["p3.2xlarge"].alloc_cpu_millicores is None and cat["p3.2xlarge"].arch is None
    assert "us-east-1" not in cat["p5.4xlarge"].spot_savings_pct
    inf2 = cat["inf2.xlarge"]
    assert (inf2.gpu_count, inf2.accelerator_count, inf2.neuroncores) == (0, 1, 2)


def test_spot_price_is_on_demand_times_one_minus_savings():
    # g5.xlarge: 1.006 × (1 − 0.59) = 0.41246; m6i.large: 0.096 × (1 − 0.63) = 0.03552
    assert spot_usd_per_hour(catalog()["g5.xlarge"]) == pytest.approx(0.41246)
    assert spot_usd_per_hour(catalog()["m6i.large"]) == pytest.approx(0.03552)


def test_spot_price_is_none_when_savings_unknown():
    assert spot_usd_per_hour(catalog()["p5.4xlarge"]) is None


def test_regions_without_on_demand_prices_raise_a_clear_error():
    with pytest.raises(PricingError, match=r"no on-demand prices for region 'eu-west-1'.*us-east-1 prices only"):
        price_book("eu-west-1")
    with pytest.raises(PricingError, match="us-west-2"):
        spot_usd_per_hour(catalog()["g5.xlarge"], "us-west-2")


def test_fallback_price_book_uses_us_east_1_prices_and_says_so():
    book = price_book("eu-west-1", fallback_to_us_east_1=True)
    g = catalog()["g5.xlarge"]
    assert book.is_fallback and book.price_region == "us-east-1"
    assert book.on_demand(g) == 1.006
    assert book.spot(g) == pytest.approx(1.006 * (1 - 0.56))  # eu-west-1 savings on us-east-1 price
    assert any("not in the pricing data" in n for n in book.notes)
    assert any("eu-west-1's (Spot Advisor)" in n for n in book.notes)


def test_interruption_rank_orders_buckets_unknown_last():
    assert [interruption_rank(b) for b in ("<5%", "5-10%", "10-15%", "15-20%", ">20%", None, "?")] == [0, 1, 2, 3, 4, 5, 5]


def test_fixed_costs_have_sources():
    items = {s["item"] for s in pricing.FIXED_COST_SOURCES}
    for needed in ("EKS control plane (standard support)", "NAT gateway", "Application Load Balancer",
                   "Network Load Balancer", "EBS gp3 storage", "EBS gp3 IOPS above 3,000",
                   "EBS gp3 throughput above 125 MB/s", "EBS gp2 storage", "KMS customer managed key"):
        assert needed in items
    assert all(s["source"] and s["date"] for s in pricing.FIXED_COST_SOURCES)
    assert pricing.EKS_CONTROL_PLANE_USD_PER_HOUR == 0.10 and pricing.HOURS_PER_MONTH == 730
