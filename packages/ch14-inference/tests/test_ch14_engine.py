"""The engine against transformers' generate(): greedy tokens identical, whatever the batching."""

from __future__ import annotations

import pytest
import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams
from llmpath_core import UserError

PROMPT_LENS = (5, 17, 33, 9, 40, 3)


@pytest.fixture(scope="module")
def prompts():
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, 97, (n,), generator=g).tolist() for n in PROMPT_LENS]


@pytest.fixture(scope="module")
def reference(gqa_model, prompts):
    """transformers' greedy generate(), one prompt at a time (no padding in the oracle)."""
    out = []
    for p in prompts:
        # an explicit mask: generate() would otherwise treat prompt tokens equal to pad as padding
        ids = gqa_model.generate(
            torch.tensor([p]),
            attention_mask=torch.ones(1, len(p), dtype=torch.long),
            max_new_tokens=24,
            do_sample=False,
            pad_token_id=0,
        )
        out.append(ids[0, len(p) :].tolist())
    return out


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(EngineConfig(block_size=16, num_blocks=64, max_num_seqs=1), id="single"),
        pytest.param(EngineConfig(block_size=16, num_blocks=64), id="batched"),
        pytest.param(EngineConfig(block_size=1, num_blocks=600), id="paged-block1"),
        pytest.param(
            EngineConfig(block_size=4, num_blocks=200, max_num_batched_tokens=8), id="chunked"
        ),
        pytest.param(EngineConfig(block_size=4, num_blocks=24, max_num_seqs=6), id="preempted"),
        pytest.param(
            EngineConfig(block_size=8, num_blocks=64, policy="static", max_num_seqs=4), id="static"
        ),
    ],
)
def test_greedy_equals_hf_generate(gqa_model, prompts, reference, config):
    engine = LLMEngine(gqa_model, config=config)
    outs = engine.generate(prompts, SamplingParams(max_tokens=24))
    assert [o.outputs[0].token_ids for o in outs] == reference
    assert engine.blocks.num_free_blocks == engine.blocks.num_blocks  # everything given back
    if config.num_blocks == 24:
        assert engine.scheduler.num_preemptions > 0  # the case really preempted and resumed


def test_parallel_sampling_shares_the_prompt_blocks(gqa_model, prompts):
    config = EngineConfig(block_size=4, num_blocks=64, record_memory=True)
    engine = LLMEngine(gqa_model, config=config)
    prompt = prompts[4]  # 40 tokens = 10 full blocks
    params = SamplingParams(n=4, temperature=1.0, max_tokens=8)
    (out,) = engine.generate([prompt], params)
    assert len(out.outputs) == 4
    assert len({tuple(o.token_ids) for o in out.outputs}) > 1  # the samples differ
    # 4 separate copies of 40+8 tokens would need 4*12 blocks; sharing the 10 prompt blocks,
    # the most ever allocated is 10 + 4 * 2 blocks of 4 slots
    peak = max(m["slots_allocated"] for m in engine.memory_log)
    assert peak <= (10 + 4 * 2) * 4
    assert engine.blocks.num_free_blocks == engine.blocks.num_blocks


def test_parallel_greedy_samples_all_equal_the_single_answer(gqa_model, prompts, reference):
    engine = LLMEngine(gqa_model, config=EngineConfig(block_size=4, num_blocks=64))
    (out,) = engine.generate([prompts[1]], SamplingParams(n=3, max_tokens=24))
    assert [o.token_ids for o in out.outputs] == [reference[1]] * 3


def test_eos_stop_strings_and_streaming(text_model_dir):
    engine = LLMEngine(str(text_model_dir))
    prompt = "Once upon a time"
    (full,) = engine.generate([prompt], SamplingParams(max_tokens=40, ignore_eos=True))
    text = full.outputs[0].text
    assert len(full.outputs[0].token_ids) == 40 and full.outputs[0].finish_reason == "length"
    stop = text[10:12]
    (cut,) = engine.generate([prompt], SamplingParams(max_tokens=40, stop=[stop], ignore_eos=True))
    assert cut.outputs[0].text == text[: text.find(stop)]
    assert cut.outputs[0].finish_reason == "stop"
    streamed = "".join(engine.stream(prompt, SamplingParams(max_tokens=40, ignore_eos=True)))
    assert streamed == text
    # with EOS allowed, generation ends at the model's first EOS (id 0) exactly as HF does
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(text_model_dir)
    ids = engine.tokenizer.encode(prompt)
    ref = hf.generate(
        torch.tensor([ids]), max_new_tokens=40, do_sample=False, eos_token_id=0, pad_token_id=0
    )[0, len(ids) :].tolist()
    (ours,) = engine.generate([prompt], SamplingParams(max_tokens=40))
    assert ours.outputs[0].token_ids == ref[: len(ours.outputs[0].token_ids)]
    assert ours.outputs[0].finish_reason == ("stop" if 0 in ref else "length")


def test_bad_requests_are_user_errors(gqa_model):
    engine = LLMEngine(gqa_model, config=EngineConfig(block_size=4, num_blocks=4))
    with pytest.raises(UserError, match="longer than the model's context"):
        engine.add_request(list(range(90)) * 2)
    with pytest.raises(UserError, match="too small for one request"):
        engine.add_request([1, 2, 3], SamplingParams(max_tokens=20))
    with pytest.raises(UserError, match="empty"):
        engine.add_request([])
    with pytest.raises(UserError, match="smaller than one block"):
        LLMEngine(gqa_model, config=EngineConfig(kv_cache_bytes=10))


def test_paged_forward_logits_equal_hf_logits(gqa_model):
    """Two sequences in one flat batch, one prefilled in two chunks: logits within 1e-5 of HF."""
    from ch14_inference import BlockManager, PagedLlama
    from ch14_inference.model import make_batch

    model = PagedLlama(gqa_model)
    blocks = BlockManager(32, 4)
    cache = model.new_cache(32, 4)
    g = torch.Generator().manual_seed(3)
    a, b = (
        torch.randint(0, 97, (11,), generator=g).tolist(),
        torch.randint(0, 97, (6,), generator=g).tolist(),
    )
    sa, _ = blocks.append_slots(1, 7)
    sb, _ = blocks.append_slots(2, 6)
    first = model.forward(
        make_batch(
            [(a[:7], 0, sa, blocks.slot_table(1)), (b, 0, sb, blocks.slot_table(2))],
            4,
            all_logits=True,
        ),
        cache,
    )
    sa2, _ = blocks.append_slots(1, 4)
    rest = model.forward(
        make_batch([(a[7:], 7, sa2, blocks.slot_table(1))], 4, all_logits=True), cache
    )
    with torch.no_grad():
        ref_a = gqa_model(torch.tensor([a])).logits[0]
        ref_b = gqa_model(torch.tensor([b])).logits[0]
    torch.testing.assert_close(torch.cat([first[:7], rest]), ref_a, atol=1e-5, rtol=0)
    torch.testing.assert_close(first[7:], ref_b, atol=1e-5, rtol=0)


def test_a_non_llama_model_folder_is_a_user_error(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(
        tmp_path
    )
    with pytest.raises(UserError, match="Llama-architecture"):
        LLMEngine(str(tmp_path))
