"""`modelstack prices refresh` against botocore's Stubber, with response shapes from the AWS API reference.

Shapes: Price List Query API GetProducts (``PriceList`` is a list of JSON *strings*, ``FormatVersion`` aws_v1,
``NextToken``); EC2 DescribeSpotPriceHistory (``SpotPriceHistory`` items with AvailabilityZone, InstanceType,
ProductDescription, SpotPrice as a string, Timestamp; ``NextToken``); EC2 DescribeInstanceTypeOfferings
(``InstanceTypeOfferings`` items with InstanceType, LocationType, Location; ``NextToken``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

from modelstack import cli
from modelstack.capacity import pricing, refresh
from modelstack.capacity.pricing import parse_region_prices, price_book

NOW = datetime(2026, 12, 3, 5, 0, tzinfo=timezone.utc)
REGION = "eu-central-1"
TYPES = ["m6i.large", "m7i.large", "g5.xlarge", "p5.48xlarge"]


def _client(service: str, region: str):
    return boto3.client(service, region_name=region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")


def product(instance_type: str, usd: str, region: str = REGION, sku: str = "JRTCKXETXF") -> str:
    """One PriceList entry as GetProducts returns it: a JSON document serialized into a string."""
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": sku,
                    "attributes": {"instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux",
                                   "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                                   "marketoption": "OnDemand", "servicecode": "AmazonEC2"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {},
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                "pricePerUnit": {"USD": usd}}}}}},
        "version": "20261120000000", "publicationDate": "2026-11-20T00:00:00Z",
    })


def spot(instance_type: str, zone: str, usd: str, when: datetime) -> dict:
    return {"AvailabilityZone": zone, "InstanceType": instance_type, "ProductDescription": "Linux/UNIX",
            "SpotPrice": usd, "Timestamp": when}


def offering(instance_type: str, region: str = REGION) -> dict:
    return {"InstanceType": instance_type, "LocationType": "region", "Location": region}


def stubbed(offerings_pages, product_pages, spot_pages, region=REGION, spot_types=None):
    ec2, prices = _client("ec2", region), _client("pricing", "us-east-1")
    es, ps = Stubber(ec2), Stubber(prices)
    base = {"LocationType": "region", "Filters": [{"Name": "location", "Values": [region]}]}
    for i, page in enumerate(offerings_pages):
        resp = {"InstanceTypeOfferings": page}
        if i + 1 < len(offerings_pages):
            resp["NextToken"] = f"off{i + 1}"
        es.add_response("describe_instance_type_offerings", resp, {**base, **({"NextToken": f"off{i}"} if i else {})})
    pbase = {"ServiceCode": "AmazonEC2", "Filters": refresh.PRICE_FILTERS(region), "FormatVersion": "aws_v1"}
    for i, page in enumerate(product_pages):
        resp = {"FormatVersion": "aws_v1", "PriceList": page}
        if i + 1 < len(product_pages):
            resp["NextToken"] = f"prod{i + 1}"
        ps.add_response("get_products", resp, {**pbase, **({"NextToken": f"prod{i}"} if i else {})})
    sbase = {"InstanceTypes": spot_types, "ProductDescriptions": ["Linux/UNIX"], "StartTime": NOW}
    for i, page in enumerate(spot_pages):
        resp = {"SpotPriceHistory": page}
        if i + 1 < len(spot_pages):
            resp["NextToken"] = f"spot{i + 1}"
        ps_params = {**sbase, **({"NextToken": f"spot{i}"} if i else {})}
        es.add_response("describe_spot_price_history", resp, ps_params)
    return prices, ec2, ps, es


def test_refresh_reads_every_page_of_the_three_apis_and_writes_what_the_plan_reads():
    old = NOW - timedelta(hours=3)
    prices, ec2, ps, es = stubbed(
        offerings_pages=[[offering("m6i.large"), offering("c7i.large")], [offering("g5.xlarge"), offering("m7i.large")]],
        product_pages=[[product("m6i.large", "0.1150000000"), product("x9.huge", "9.0")],
                       [product("g5.xlarge", "1.2590000000"), product("m7i.large", "0.0000000000", sku="CAPBLOCK"),
                        product("m7i.large", "0.1210000000")]],
        spot_pages=[[spot("m6i.large", "eu-central-1a", "0.040000", NOW), spot("m6i.large", "eu-central-1a", "0.090000", old),
                     spot("m6i.large", "eu-central-1b", "0.050000", NOW)],
                    [spot("m6i.large", "eu-central-1c", "0.070000", NOW), spot("g5.xlarge", "eu-central-1a", "0.500000", NOW)]],
        spot_types=["g5.xlarge", "m6i.large", "m7i.large"])
    with ps, es:
        doc = refresh.refresh(REGION, TYPES, prices, ec2, now=NOW)
    ps.assert_no_pending_responses()
    es.assert_no_pending_responses()
    assert doc["date"] == "2026-12-03" and doc["region"] == REGION and doc["fetched_at"] == "2026-12-03T05:00:00Z"
    t = doc["instance_types"]
    assert set(t) == set(TYPES)  # the catalog's types only (c7i.large and x9.huge are not asked for)
    assert t["m6i.large"] == {"offered": True, "on_demand_usd_per_hour": 0.115,
                              "spot_usd_per_hour": {"eu-central-1a": 0.04, "eu-central-1b": 0.05, "eu-central-1c": 0.07}}
    assert t["m7i.large"] == {"offered": True, "on_demand_usd_per_hour": 0.121}  # the $0 capacity-block SKU skipped
    assert t["p5.48xlarge"] == {"offered": False}
    data = parse_region_prices(json.loads(json.dumps(doc)), "prices/eu-central-1.json")
    assert data.spot["m6i.large"] == 0.05  # median over the three zones' latest prices
    book = price_book(REGION, data=data)
    cat = pricing.catalog()
    assert book.on_demand(cat["m6i.large"]) == 0.115 and book.spot(cat["g5.xlarge"]) == 0.5
    assert not book.offers(cat["p5.48xlarge"]) and book.on_demand(cat["p5.48xlarge"]) is None
    assert "2026-12-03" in book.source() and "pricing:GetProducts" in book.source()


def _client_error(code: str, message: str, status: int = 400):
    ec2, prices = _client("ec2", REGION), _client("pricing", "us-east-1")
    es = Stubber(ec2)
    es.add_client_error("describe_instance_type_offerings", service_error_code=code, service_message=message,
                        http_status_code=status)
    return prices, ec2, es


@pytest.mark.parametrize("code,status,expect", [
    ("UnauthorizedOperation", 403, "the caller needs pricing:GetProducts, ec2:DescribeSpotPriceHistory and "
                                   "ec2:DescribeInstanceTypeOfferings"),
    ("AccessDeniedException", 400, "the caller needs pricing:GetProducts"),
    ("RequestLimitExceeded", 503, "AWS throttled instance type offerings"),
    ("OptInRequired", 401, "is not enabled for this account"),
])
def test_aws_errors_become_one_message(code, status, expect):
    prices, ec2, es = _client_error(code, "no", status)
    with es, pytest.raises(refresh.RefreshError) as e:
        refresh.refresh(REGION, TYPES, prices, ec2, now=NOW)
    assert expect in str(e.value) and code in str(e.value) and REGION in str(e.value)


def test_get_products_access_denied_names_the_pricing_call():
    ec2, prices = _client("ec2", REGION), _client("pricing", "us-east-1")
    es, ps = Stubber(ec2), Stubber(prices)
    es.add_response("describe_instance_type_offerings", {"InstanceTypeOfferings": [offering("m6i.large")]})
    ps.add_client_error("get_products", service_error_code="AccessDeniedException",
                        service_message="User is not authorized to perform: pricing:GetProducts", http_status_code=400)
    with es, ps, pytest.raises(refresh.RefreshError, match=r"AWS refused on-demand prices \(pricing:GetProducts\)"):
        refresh.refresh(REGION, TYPES, prices, ec2, now=NOW)


def test_no_credentials_is_explained():
    msg = refresh.explain(NoCredentialsError(), "on-demand prices (pricing:GetProducts)", REGION)
    assert msg.startswith("no usable AWS credentials") and "aws sso login" in msg


def test_cli_exits_2_with_one_line_and_no_traceback(monkeypatch, tmp_path, capsys):
    def boom(*a, **k):
        raise refresh.RefreshError("AWS refused instance type offerings in eu-central-1 (UnauthorizedOperation: no)")
    monkeypatch.setattr(refresh, "refresh", boom)
    assert cli.main(["prices", "refresh", "--region", REGION, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelstack prices refresh: AWS refused") and "Traceback" not in err
    assert not (tmp_path / "p.json").exists()


def test_cli_refuses_a_region_where_eks_does_not_run(capsys):
    assert cli.main(["prices", "refresh", "--region", "mars-1"]) == 2
    err = capsys.readouterr().err
    assert "--region: got 'mars-1'; allowed: an AWS region where EKS runs: one of" in err and "sa-east-1" in err


def test_cli_with_no_credentials_exits_2(monkeypatch, tmp_path, capsys):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
              "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
              "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli.main(["prices", "refresh", "--region", REGION, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "modelstack prices refresh: no usable AWS credentials" in err and "Traceback" not in err


def test_cli_writes_the_file_where_the_plan_looks(monkeypatch, tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    doc = {"format": 1, "region": REGION, "date": "2026-12-03", "sources": dict(refresh.SOURCES),
           "counts": {"catalog_types": 1, "offered": 1, "on_demand_priced": 1, "spot_priced": 0},
           "instance_types": {"m6i.large": {"offered": True, "on_demand_usd_per_hour": 0.115}}}
    monkeypatch.setattr(refresh, "refresh", lambda *a, **k: doc)
    assert cli.main(["prices", "refresh", "--region", REGION, "--project-dir", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "prices" / f"{REGION}.json").read_text())
    assert written == doc and "wrote" in capsys.readouterr().out
