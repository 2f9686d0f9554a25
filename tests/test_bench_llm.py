"""bench/llm.py: its portfolio spans what the issue asks, and its brute force agrees with the sizing on known cases
(the benchmark itself, through `modelstack plan`, runs in `make bench`, not here: figures go to bench/)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from modelstack.capacity import llm as sizing_llm
from modelstack.capacity.pricing import catalog, price_book


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "llm.py"
    spec = importlib.util.spec_from_file_location("modelstack_bench_llm_t", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_portfolio_spans_sizes_contexts_and_formats(bench):
    cases = bench.PORTFOLIO
    assert len(cases) >= 8
    params = [bench.architecture(c).parameter_count for c in cases]
    assert min(params) < 2e9 and max(params) > 70e9
    assert min(c.max_model_len for c in cases) <= 4096 and max(c.max_model_len for c in cases) >= 131072
    assert {"bfloat16", "fp8", "int4"} <= {bench.architecture(c).dtype for c in cases}


@pytest.mark.parametrize("spot", [False, True])
def test_brute_force_finds_what_the_sizing_chooses_for_llama_70b(bench, spot):
    case = next(c for c in bench.PORTFOLIO if c.name == "llama-3-1-70b")
    name, degree, usd = bench.brute_force(case, spot)
    # prod's families (g4dn, g5, g6, g6e, p4d, p5): eight 40 GB A100s, tests/planner/test_llm.py
    assert (name, degree) == ("p4d.24xlarge", 8)
    book = price_book("us-east-1")
    p4d = catalog()["p4d.24xlarge"]
    assert usd == pytest.approx(book.spot(p4d) if spot else book.on_demand(p4d))


def test_brute_force_reports_nothing_when_no_node_holds_a_replica(bench):
    case = next(c for c in bench.PORTFOLIO if c.name == "llama-3-1-70b")
    huge = bench.Case("huge", case.source, case.architecture, 131072, 256)
    assert bench.brute_force(huge, False)[0] is None
    with pytest.raises(sizing_llm.LlmSizingError):
        sizing_llm.choose(bench.architecture(huge), bench.settings(huge), catalog().values(), price_book("us-east-1"),
                          spot=False, pod=bench.POD)
