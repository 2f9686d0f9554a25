"""A region's EC2 prices and offerings from the AWS APIs, as a region price file (`modelstack prices refresh`).

Three calls, each paginated, for the instance types of the catalog (data/ec2_instances.csv):

* on-demand: AWS Price List Query API, ``pricing:GetProducts`` (the API's endpoint is in us-east-1), service
  ``AmazonEC2``, TERM_MATCH filters ``regionCode`` = the region, ``operatingSystem`` = Linux, ``tenancy`` = Shared,
  ``preInstalledSw`` = NA, ``capacitystatus`` = Used, ``marketoption`` = OnDemand (the filters Karpenter's price
  generator uses, data/SOURCES.md). Each ``PriceList`` item is a JSON string; the price is the ``Hrs``
  dimension's ``pricePerUnit.USD`` of its ``terms.OnDemand`` term. Zero prices (capacity-block SKUs) are skipped.
* spot: ``ec2:DescribeSpotPriceHistory`` in the region, ``ProductDescriptions=["Linux/UNIX"]``, ``StartTime`` =
  now (AWS then returns the price in effect now per type and zone); the latest record per type and zone is kept.
* offerings: ``ec2:DescribeInstanceTypeOfferings`` in the region, ``LocationType="region"``, filter ``location``.

The caller builds the clients (boto3, the caller's credentials); nothing here reads configuration or the
environment. Errors come back as :class:`RefreshError` with a message for people (no traceback).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Optional

from modelstack.capacity.pricing import PRICE_FILE_FORMAT, parse_region_prices

__all__ = ["RefreshError", "PRICE_FILTERS", "SOURCES", "on_demand_prices", "spot_prices", "offered_types",
           "refresh", "explain"]

PRICING_API_REGION = "us-east-1"
"""Where the Price List Query API answers for the commercial partition."""


def PRICE_FILTERS(region: str) -> list[dict[str, str]]:  # noqa: N802 (a constant with a parameter)
    """GetProducts filters: Linux, shared tenancy, no pre-installed software, capacity used, on-demand."""
    fields = {"regionCode": region, "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
              "capacitystatus": "Used", "marketoption": "OnDemand"}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()]


SOURCES = {
    "on_demand": "AWS Price List Query API (pricing:GetProducts AmazonEC2: Linux, Shared tenancy, preInstalledSw NA, "
                 "capacitystatus Used, OnDemand)",
    "spot": "EC2 DescribeSpotPriceHistory (Linux/UNIX, latest price per type and availability zone)",
    "offered": "EC2 DescribeInstanceTypeOfferings (LocationType region)",
}


class RefreshError(Exception):
    """A refresh that could not finish: what was being fetched and why, for people."""


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterable[Any]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _hourly_usd(product: Mapping[str, Any]) -> Optional[float]:
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if dim.get("unit") != "Hrs":
                continue
            try:
                usd = float(dim.get("pricePerUnit", {}).get("USD", "0"))
            except (TypeError, ValueError):
                continue
            if usd > 0:
                return usd
    return None


def on_demand_prices(pricing_client: Any, region: str, types: Iterable[str]) -> dict[str, float]:
    """On-demand $/h per instance type of ``types`` in ``region`` (types without a price are left out). Where the
    filters still match several products of one type with different prices, the lowest is kept."""
    wanted = set(types)
    out: dict[str, float] = {}
    for item in _pages(pricing_client, "get_products", "PriceList", ServiceCode="AmazonEC2",
                       Filters=PRICE_FILTERS(region), FormatVersion="aws_v1"):
        product = json.loads(item) if isinstance(item, str) else item
        attrs = product.get("product", {}).get("attributes", {})
        name = attrs.get("instanceType")
        if name not in wanted or attrs.get("regionCode", region) != region:
            continue
        usd = _hourly_usd(product)
        if usd is not None and (name not in out or usd < out[name]):
            out[name] = usd
    return out


def spot_prices(ec2_client: Any, types: Iterable[str], now: datetime) -> dict[str, dict[str, float]]:
    """Latest Linux/UNIX spot $/h per type and availability zone."""
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    names = sorted(set(types))
    for i in range(0, len(names), 100):  # a bounded filter list per call
        for rec in _pages(ec2_client, "describe_spot_price_history", "SpotPriceHistory", InstanceTypes=names[i:i + 100],
                          ProductDescriptions=["Linux/UNIX"], StartTime=now):
            key = (rec["InstanceType"], rec["AvailabilityZone"])
            when, price = rec["Timestamp"], float(rec["SpotPrice"])
            if price > 0 and (key not in latest or when > latest[key][0]):
                latest[key] = (when, price)
    out: dict[str, dict[str, float]] = {}
    for (name, zone), (_, price) in sorted(latest.items()):
        out.setdefault(name, {})[zone] = price
    return out


def offered_types(ec2_client: Any, region: str) -> set[str]:
    """Every instance type ``region`` offers."""
    return {o["InstanceType"] for o in _pages(ec2_client, "describe_instance_type_offerings", "InstanceTypeOfferings",
                                              LocationType="region",
                                              Filters=[{"Name": "location", "Values": [region]}])}


def refresh(region: str, types: Iterable[str], pricing_client: Any, ec2_client: Any,
            now: Optional[datetime] = None) -> dict[str, Any]:
    """The region price file for ``region`` (a JSON document that :func:`pricing.parse_region_prices` reads).
    Raises RefreshError (see :func:`explain`)."""
    now = now or datetime.now(timezone.utc)
    names = sorted(set(types))
    step = "instance type offerings (ec2:DescribeInstanceTypeOfferings)"
    try:
        offered = offered_types(ec2_client, region)
        step = "on-demand prices (pricing:GetProducts)"
        on_demand = on_demand_prices(pricing_client, region, names)
        step = "spot prices (ec2:DescribeSpotPriceHistory)"
        spot = spot_prices(ec2_client, [n for n in names if n in offered], now)
    except Exception as e:  # noqa: BLE001 -- every botocore failure becomes one message
        raise RefreshError(explain(e, step, region)) from None
    if not offered:
        raise RefreshError(f"{region} offers no instance type according to ec2:DescribeInstanceTypeOfferings: "
                           "is the region enabled for this account?")
    entries = {}
    for n in names:
        entry: dict[str, Any] = {"offered": n in offered}
        if n in on_demand:
            entry["on_demand_usd_per_hour"] = on_demand[n]
        if n in spot:
            entry["spot_usd_per_hour"] = spot[n]
        entries[n] = entry
    doc = {
        "format": PRICE_FILE_FORMAT,
        "region": region,
        "date": now.date().isoformat(),
        "fetched_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "written_by": "modelstack prices refresh",
        "sources": dict(SOURCES),
        "counts": {"catalog_types": len(names), "offered": sum(1 for n in names if n in offered),
                   "on_demand_priced": len(on_demand), "spot_priced": len(spot)},
        "instance_types": entries,
    }
    parse_region_prices(doc)  # what is written is what the plan reads
    return doc


#: Error codes and what to tell the user.
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
           "InvalidClientTokenId", "AuthFailure", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch")
_THROTTLED = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")
_PERMISSIONS = "pricing:GetProducts, ec2:DescribeSpotPriceHistory and ec2:DescribeInstanceTypeOfferings"


def explain(err: BaseException, step: str, region: str) -> str:
    """One message for a failed call: what was fetched, the AWS error, and what to do."""
    name = type(err).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "NoAuthTokenError",
                "SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"):
        return (f"no usable AWS credentials ({err}) while fetching {step}: configure credentials the AWS CLI "
                f"would use (AWS_PROFILE, `aws sso login`, environment variables); needed: {_PERMISSIONS}")
    response = getattr(err, "response", None)
    if isinstance(response, Mapping):
        code = str(response.get("Error", {}).get("Code", ""))
        message = str(response.get("Error", {}).get("Message", "")).strip()
        said = f"{code}: {message}" if message else code
        if code in _DENIED:
            return (f"AWS refused {step} in {region} ({said}): the caller needs {_PERMISSIONS} (and valid "
                    "credentials)")
        if code in _THROTTLED:
            return f"AWS throttled {step} in {region} ({said}): wait a minute and run the refresh again"
        if code == "OptInRequired":
            return f"{region} is not enabled for this account ({said}): enable the region, then refresh"
        return f"AWS failed {step} in {region} ({said})"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return f"could not reach AWS for {step} in {region} ({err}): check the network and the region name"
    return f"{step} in {region} failed: {name}: {err}"
