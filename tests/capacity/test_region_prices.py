"""Region price files: read strictly, used instead of the built-in table, and types a region lacks never chosen."""

from __future__ import annotations

import pytest

from modelstack.capacity import pricing
from modelstack.capacity.optimizer import GroupSelection, ModelDemand, choose_group
from modelstack.capacity.pricing import PricingError, parse_region_prices, price_book
from modelstack.capacity.sizing import Requests
from modelstack.planner.capacity import _idle_choice

SOURCES = {"on_demand": "AWS Price List Query API", "spot": "EC2 DescribeSpotPriceHistory",
           "offered": "EC2 DescribeInstanceTypeOfferings"}


def doc(types: dict, region: str = "eu-central-1", **over) -> dict:
    return {"format": 1, "region": region, "date": "2026-12-01", "sources": SOURCES, "instance_types": types, **over}


def full(region: str = "eu-central-1", missing=(), factor: float = 1.2) -> pricing.PriceBook:
    types = {n: {"offered": n not in missing, "on_demand_usd_per_hour": t.on_demand_usd_per_hour * factor,
                 "spot_usd_per_hour": {f"{region}a": t.on_demand_usd_per_hour * factor * 0.4}}
             for n, t in pricing.catalog().items() if t.on_demand_usd_per_hour}
    return price_book(region, data=parse_region_prices(doc(types, region), f"prices/{region}.json"))


@pytest.mark.parametrize("bad,why", [
    ([], "not a JSON object"),
    (doc({"m6i.large": {"offered": True}}, format=2), "format is 2"),
    (doc({"m6i.large": {"offered": True}}, date="yesterday"), "date is 'yesterday'"),
    (doc({"m6i.large": {"offered": True}}, date=None), "date is None"),
    (doc({"m6i.large": {"offered": True}}, date=20261201), "date is 20261201"),
    (doc({"m6i.large": {"offered": True}}, sources={"spot": "x"}), "sources must name"),
    (doc({}), "no instance_types"),
    (doc({"m6i.large": {}}), "needs offered: true or false"),
    (doc({"m6i.large": {"offered": True, "on_demand_usd_per_hour": -1}}), "not a positive number"),
    (doc({"m6i.large": {"offered": True, "on_demand_usd_per_hour": True}}), "not a positive number"),
    (doc({"m6i.large": {"offered": True, "spot_usd_per_hour": {"a": "0.1"}}}), "availability zones to positive prices"),
])
def test_a_bad_file_is_refused_naming_it_and_what_is_wrong(bad, why):
    with pytest.raises(PricingError, match="prices/x.json: .*" + why.replace("(", r"\(")):
        parse_region_prices(bad, "prices/x.json")


def test_the_book_uses_the_file_and_the_median_zone_price():
    data = parse_region_prices(doc({
        "m6i.large": {"offered": True, "on_demand_usd_per_hour": 0.12,
                      "spot_usd_per_hour": {"eu-central-1a": 0.03, "eu-central-1b": 0.05, "eu-central-1c": 0.09}},
        "m7i.large": {"offered": True, "on_demand_usd_per_hour": 0.13,
                      "spot_usd_per_hour": {"eu-central-1a": 0.04, "eu-central-1b": 0.06}},
        "g5.xlarge": {"offered": False, "on_demand_usd_per_hour": 1.3}}))
    book = price_book("eu-central-1", data=data)
    cat = pricing.catalog()
    assert not book.is_fallback and book.notes == ()
    assert book.on_demand(cat["m6i.large"]) == 0.12 and book.spot(cat["m6i.large"]) == 0.05
    assert book.spot(cat["m7i.large"]) == pytest.approx(0.05)
    assert book.savings_pct(cat["m6i.large"]) == pytest.approx(100 * (1 - 0.05 / 0.12))
    # offered false, and absent from the file: neither is usable
    assert not book.offers(cat["g5.xlarge"]) and book.on_demand(cat["g5.xlarge"]) is None
    assert not book.offers(cat["c7i.large"])
    assert set(book.usable(cat)) == {"m6i.large", "m7i.large"}
    with pytest.raises(PricingError, match="holds prices for eu-central-1, not sa-east-1"):
        price_book("sa-east-1", data=data)


def test_priced_lookups_give_the_price_and_name_a_type_without_one():
    data = parse_region_prices(doc({
        "m6i.large": {"offered": True, "on_demand_usd_per_hour": 0.12, "spot_usd_per_hour": {"eu-central-1a": 0.03}},
        "m7i.large": {"offered": True, "on_demand_usd_per_hour": 0.13}}))
    book = price_book("eu-central-1", data=data)
    cat = pricing.catalog()
    assert book.priced_on_demand(cat["m6i.large"]) == 0.12 and book.priced_spot(cat["m6i.large"]) == 0.03
    with pytest.raises(PricingError, match="m7i.large has no spot price in eu-central-1"):
        book.priced_spot(cat["m7i.large"])
    with pytest.raises(PricingError, match="c7i.large has no on-demand price in eu-central-1"):
        book.priced_on_demand(cat["c7i.large"])  # not in the file: not offered


def test_us_east_1_without_a_file_is_the_built_in_table_unchanged():
    book = price_book("us-east-1")
    g5 = pricing.catalog()["g5.xlarge"]
    assert book.on_demand(g5) == g5.on_demand_usd_per_hour and book.data is None and book.offers(g5)
    assert book.to_json()["fallback"] is False and "Karpenter's generated table of 2026-07-20" in book.source()


def test_a_region_without_a_file_falls_back_and_says_so():
    book = price_book("ap-southeast-1", fallback_to_us_east_1=True)
    assert book.is_fallback and book.to_json()["file"] is None
    assert any("run `modelstack prices refresh --region ap-southeast-1`" in n for n in book.notes)
    with pytest.raises(PricingError, match="ap-southeast-1"):
        price_book("ap-southeast-1")


CPU = ModelDemand("api", Requests(cpu_millicores=1500, memory_mib=3072), 2, 8)
GPU = ModelDemand("gen", Requests(cpu_millicores=2000, memory_mib=8192, gpu=1), 1, 4)


@pytest.mark.parametrize("spot", [False, True])
@pytest.mark.parametrize("demand,selection", [(CPU, GroupSelection(families=("m6i", "m7i", "m6a", "m7a", "m5"))),
                                              (GPU, GroupSelection(gpu_models=("a10g", "l4", "t4")))])
def test_the_optimizer_never_chooses_a_type_the_region_does_not_offer(demand, selection, spot):
    sel = GroupSelection(**{**selection.__dict__, "spot": spot})
    first = choose_group(sel, [demand], full())
    picked = set(first.instance_types) | (set(first.on_demand_floor.instance_types) if first.on_demand_floor else set())
    second = choose_group(sel, [demand], full(missing=picked))
    again = set(second.instance_types) | (set(second.on_demand_floor.instance_types) if second.on_demand_floor else set())
    assert not again & picked, (picked, again)


def test_an_idle_group_gets_an_offered_type():
    sel = GroupSelection(families=("m6i", "m7i"))
    types, _ = _idle_choice(sel, pricing.catalog(), full())
    types2, _ = _idle_choice(sel, pricing.catalog(), full(missing=set(types)))
    assert not set(types) & set(types2)
