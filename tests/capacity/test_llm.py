"""capacity/llm.py: GPU-memory sizing of LLMs, held to figures computed by hand from published config.json files.

Architectures (Hugging Face repositories, file config.json on main, read 2026-12):
- meta-llama/Llama-3.1-8B: num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, hidden_size 4096,
  intermediate_size 14336, vocab_size 128256, max_position_embeddings 131072, tie_word_embeddings false,
  torch_dtype bfloat16.
- mistralai/Mistral-7B-Instruct-v0.3: 32 layers, 32 heads, 8 KV heads, hidden 4096, intermediate 14336,
  vocab 32768, max_position_embeddings 32768, untied, bfloat16.
- meta-llama/Llama-3.1-70B: 80 layers, 64 heads, 8 KV heads, hidden 8192, intermediate 28672, vocab 128256,
  max_position_embeddings 131072, untied, bfloat16.
"""

from __future__ import annotations

import pytest

from modelstack.capacity import llm, pricing, sizing

GIB = 2 ** 30

LLAMA_8B = {"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 4096,
            "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 131072,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
MISTRAL_7B = {**LLAMA_8B, "vocab_size": 32768, "max_position_embeddings": 32768}
LLAMA_70B = {**LLAMA_8B, "num_hidden_layers": 80, "num_attention_heads": 64, "hidden_size": 8192,
             "intermediate_size": 28672}


def arch(doc: dict) -> llm.Architecture:
    f = llm.hf_fields(doc)
    f.setdefault("head_dim", f["hidden_size"] // f["attention_heads"])
    return llm.Architecture(**f)


CAT = pricing.catalog()
BOOK = pricing.price_book("us-east-1")
#: One replica's CPU and memory: the Compute defaults (200m, 1Gi) plus the request-limit proxy's.
POD = sizing.Requests.parse("300m", "1152Mi")


# --- weights and KV cache, by hand ---------------------------------------------------------------------------

# Llama-3.1-8B: embeddings and head 2 x 128256 x 4096 = 1,050,673,152; per layer q and o 2 x 4096 x 4096
# = 33,554,432, k and v 2 x 4096 x 8 x 128 = 8,388,608, MLP 3 x 4096 x 14336 = 176,160,768, norms 8,192:
# 218,112,000 x 32 = 6,979,584,000; final norm 4,096. Total 8,030,261,248 (the 8.03B Meta publishes).
# Mistral-7B-v0.3: the same layers, embeddings 2 x 32768 x 4096 = 268,435,456: 7,248,023,552.
# Llama-3.1-70B: embeddings 2 x 128256 x 8192 = 2,101,346,304; per layer 2 x 8192^2 = 134,217,728 +
# 2 x 8192 x 1024 = 16,777,216 + 3 x 8192 x 28672 = 704,643,072 + 16,384 = 855,654,400, x 80 = 68,452,352,000;
# final norm 8,192. Total 70,553,706,496.
@pytest.mark.parametrize("doc, params, kv_per_token", [
    (LLAMA_8B, 8_030_261_248, 2 * 32 * 8 * 128 * 2),      # 131,072 B = 128 KiB per token
    (MISTRAL_7B, 7_248_023_552, 2 * 32 * 8 * 128 * 2),
    (LLAMA_70B, 70_553_706_496, 2 * 80 * 8 * 128 * 2),    # 327,680 B = 320 KiB per token
])
def test_parameters_weights_and_kv_per_token_match_the_hand_computed_figures(doc, params, kv_per_token):
    a = arch(doc)
    assert a.parameter_count == params
    assert a.weight_bytes == 2 * params  # bfloat16
    assert a.kv_bytes_per_token() == kv_per_token
    assert a.kv_bytes_per_token("fp8") == kv_per_token // 2


def test_llama_8b_budget_on_one_l40s():
    # 16 sequences of 8,192 tokens = 131,072 tokens x 128 KiB = 16 GiB of KV cache exactly; weights
    # 16,060,522,496 B = 14.957 GiB; 2 GiB overhead; 0.9 x 44.703 GiB = 40.233 GiB usable: 7.28 GiB to spare.
    a = arch(LLAMA_8B)
    b = llm.budget(a, llm.Settings(max_model_len=8192, max_num_seqs=16), 44.703, 1)
    assert b.kv == 16 * GIB
    assert b.weights == 16_060_522_496
    assert b.headroom / GIB == pytest.approx(0.9 * 44.703 - 16_060_522_496 / GIB - 16 - 2, abs=1e-9)
    assert b.headroom / GIB == pytest.approx(7.276, abs=0.001)
    # all memory past weights and overhead holds (40.233 - 14.957 - 2) GiB / 128 KiB = 190,670 tokens
    assert b.kv_tokens == 190_670


def test_mistral_7b_needs_two_l4s_not_one():
    # One 22.352 GiB L4 at 0.9: 20.117 GiB usable < 13.501 GiB weights + 16 GiB KV + 2 GiB; two: 6.750 + 8 + 2.
    a, s = arch(MISTRAL_7B), llm.Settings(max_model_len=8192, max_num_seqs=16)
    assert not llm.budget(a, s, 22.352, 1).fits
    two = llm.budget(a, s, 22.352, 2)
    assert two.fits and two.headroom / GIB == pytest.approx(0.9 * 22.352 - 14_496_047_104 / 2 / GIB - 8 - 2, abs=1e-9)


def test_cheapest_for_llama_8b_is_one_l40s_on_demand():
    # Options that hold it on demand: g6e.xlarge (1 x L40S) $1.861/h; two L4s of g6.12xlarge $4.6016/2 = $2.30.
    o = llm.choose(arch(LLAMA_8B), llm.Settings(8192, 16), CAT.values(), BOOK, spot=False, pod=POD)
    assert (o.itype.name, o.degree, o.replicas_per_node) == ("g6e.xlarge", 1, 1)
    assert o.usd_per_replica_hour == CAT["g6e.xlarge"].on_demand_usd_per_hour


def test_cheapest_for_llama_70b_is_four_a100_80gb_half_a_p4de():
    # 131.42 GiB of weights + 40 GiB KV (16 x 8,192 tokens x 320 KiB): four 80 GB A100s hold 32.85 + 10 + 2 GiB
    # each of 72 GiB, so one p4de.24xlarge (8 GPUs, $27.44705/h) holds two replicas: $13.72/h each. Four L40S
    # (40.23 GiB usable) are 4.6 GiB short; eight L40S cost $30.13/h; eight 40 GB A100s (p4d) $21.96/h.
    a, s = arch(LLAMA_70B), llm.Settings(8192, 16)
    o = llm.choose(a, s, CAT.values(), BOOK, spot=False, pod=POD)
    assert (o.itype.name, o.degree, o.replicas_per_node) == ("p4de.24xlarge", 4, 2)
    assert o.usd_per_replica_hour == pytest.approx(27.44705 / 2)
    assert not llm.budget(a, s, 44.703, 4).fits
    assert llm.budget(a, s, 44.703, 4).headroom / GIB == pytest.approx(0.9 * 44.703 - 141_107_412_992 / 4 / GIB - 10 - 2)


def test_every_option_is_cheaper_or_equal_to_every_other_feasible_pair_by_brute_force():
    a, s = arch(LLAMA_70B), llm.Settings(8192, 16)
    best = llm.choose(a, s, CAT.values(), BOOK, spot=False, pod=POD)
    for t in CAT.values():
        if not t.is_gpu or BOOK.on_demand(t) is None or a.gpu_problem(t.gpu_model or ""):
            continue
        for d in (1, 2, 4, 8):
            if d <= t.gpu_count and llm.budget(a, s, t.gpu_memory_gib, d).fits:
                per = BOOK.on_demand(t) / sizing.replicas_per_node(llm.replica_requests(POD, d, t.gpu_model), t)
                assert best.usd_per_replica_hour <= per + 1e-9, (t.name, d)


def test_spot_prices_the_expected_spot_price():
    o = llm.choose(arch(LLAMA_8B), llm.Settings(8192, 16), CAT.values(), BOOK, spot=True, pod=POD)
    assert o.node_usd_per_hour == BOOK.spot(o.itype)
    assert o.node_usd_per_hour < BOOK.on_demand(o.itype)


def test_degrees_must_divide_attention_and_kv_heads():
    # Qwen2.5-7B-Instruct's config.json: 28 attention heads, 4 KV heads.
    a = llm.Architecture(layers=28, attention_heads=28, kv_heads=4, hidden_size=3584, vocab_size=152064, head_dim=128,
                         intermediate_size=18944)
    assert a.degree_problem(4) is None
    assert "does not divide" in a.degree_problem(8)
    assert all(o.degree in (1, 2, 4) for o in llm.options(a, llm.Settings(32768, 64), CAT.values(), BOOK,
                                                          spot=False, pod=POD))


def test_gpus_below_ampere_are_never_chosen_and_fp8_needs_ada_or_newer():
    a = arch(LLAMA_8B)
    assert a.gpu_problem("t4") and a.gpu_problem("v100") and a.gpu_problem("a100") is None
    fp8 = llm.Architecture(**{**a.__dict__, "dtype": "fp8"})
    assert fp8.gpu_problem("a100") and fp8.gpu_problem("l4") is None
    assert a.gpu_problem("a100", "fp8")
    names = {o.itype.gpu_model for o in llm.options(a, llm.Settings(4096, 4), CAT.values(), BOOK, spot=False, pod=POD)}
    assert names and not names & {"t4", "v100", "NVIDIA Tesla V100"}


def test_quantized_weights_shrink_the_linear_layers_only():
    a = arch(LLAMA_8B)
    sixteen = 2 * 128256 * 4096 + 65 * 4096
    linear = a.parameter_count - sixteen
    assert llm.Architecture(**{**a.__dict__, "dtype": "fp8"}).weight_bytes == linear + 2 * sixteen
    int4 = llm.Architecture(**{**a.__dict__, "dtype": "int4"}).weight_bytes
    assert int4 == pytest.approx(linear * (0.5 + 2.5 / 128) + 2 * sixteen, abs=1)


def test_config_json_quantization_and_nesting():
    assert llm.hf_fields({**LLAMA_8B, "quantization_config": {"quant_method": "fp8"}})["dtype"] == "fp8"
    assert llm.hf_fields({**LLAMA_8B, "quantization_config": {"quant_method": "awq", "bits": 4}})["dtype"] == "int4"
    with pytest.raises(ValueError, match="bitsandbytes"):
        llm.hf_fields({**LLAMA_8B, "quantization_config": {"quant_method": "bitsandbytes"}})
    with pytest.raises(ValueError, match="8 bits"):
        llm.hf_fields({**LLAMA_8B, "quantization_config": {"quant_method": "gptq", "bits": 8}})
    nested = llm.hf_fields({"architectures": ["X"], "text_config": LLAMA_8B})
    assert nested["layers"] == 32 and nested["vocab_size"] == 128256


def test_nothing_on_one_node_is_refused_with_what_one_replica_needs():
    a, s = arch(LLAMA_70B), llm.Settings(max_model_len=131072, max_num_seqs=64)
    with pytest.raises(llm.LlmSizingError) as e:
        llm.choose(a, s, CAT.values(), BOOK, spot=False, pod=POD)
    msg = str(e.value)
    # 131.4 GiB weights + 64 x 131,072 tokens x 320 KiB = 2,560 GiB of KV cache
    assert "2,691.4 GiB" in msg and "131.4 GiB weights" in msg and "2,560.0 GiB KV cache" in msg
    assert "nothing fits one node" in msg and "p5en.48xlarge" in msg
