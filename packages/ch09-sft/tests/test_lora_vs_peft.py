"""Our LoRA/DoRA held to peft on a tiny llama: parameter count, outputs, on-disk format, merge."""

from __future__ import annotations

import pytest
import torch

from ch09_sft.lora import (
    LoRAConfig,
    count_parameters,
    inject_lora,
    load_adapter,
    lora_modules,
    merge_lora,
    save_adapter,
)
from llmpath_core import UserError
from llmpath_core.testing import tiny_llama

TOL = 1e-6  # max abs difference of logits / weights, fp32
TARGETS = ["q_proj", "v_proj", "down_proj"]


def _randomize(model, seed: int) -> None:
    """Give every adapter non-zero weights (B is zero at init, which would hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in lora_modules(model).values():
            m.lora_A.weight.copy_(torch.randn(m.lora_A.weight.shape, generator=g) * 0.1)
            m.lora_B.weight.copy_(torch.randn(m.lora_B.weight.shape, generator=g) * 0.1)
            if m.use_dora:
                m.magnitude.mul_(1 + 0.1 * torch.randn(m.magnitude.shape, generator=g))


def _peft_model(peft, use_dora: bool, r: int = 4):
    cfg = peft.LoraConfig(
        r=r,
        lora_alpha=8,
        target_modules=TARGETS,
        lora_dropout=0.0,
        use_dora=use_dora,
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(tiny_llama(0), cfg)


@pytest.mark.parametrize("use_dora", [False, True])
def test_trainable_parameter_count_matches_peft(peft, use_dora):
    ours = tiny_llama(0)
    inject_lora(ours, LoRAConfig(r=4, lora_alpha=8, target_modules=TARGETS, use_dora=use_dora))
    theirs = _peft_model(peft, use_dora)
    assert count_parameters(ours) == theirs.get_nb_trainable_parameters()


@pytest.mark.parametrize("use_dora", [False, True])
def test_peft_loads_our_adapter_with_identical_outputs(peft, tmp_path, use_dora):
    ours = tiny_llama(0)
    inject_lora(ours, LoRAConfig(r=4, lora_alpha=8, target_modules=TARGETS, use_dora=use_dora))
    ids = torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(1))
    base_logits = tiny_llama(0)(ids).logits
    # at init the adapter changes nothing
    assert (ours(ids).logits - base_logits).abs().max() <= TOL
    _randomize(ours, 3)
    save_adapter(ours, tmp_path / "ad")
    theirs = peft.PeftModel.from_pretrained(tiny_llama(0), tmp_path / "ad").eval()
    ours_logits = ours(ids).logits
    assert (ours_logits - base_logits).abs().max() > 1e-3  # the adapter does something
    assert (ours_logits - theirs(ids).logits).abs().max() <= TOL


@pytest.mark.parametrize("use_dora", [False, True])
def test_we_load_peft_adapter_and_merge_like_peft(peft, tmp_path, use_dora):
    theirs = _peft_model(peft, use_dora)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    theirs.save_pretrained(tmp_path / "peft")
    ours = load_adapter(tiny_llama(0), tmp_path / "peft")
    ids = torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(2))
    theirs.eval()
    assert (ours(ids).logits - theirs(ids).logits).abs().max() <= TOL
    # merged weights: W + (alpha/r) B A (DoRA: rescaled rows), equal to peft's merge_and_unload
    if not use_dora:
        m = lora_modules(ours)["model.layers.0.self_attn.q_proj"]
        expected = m.base.weight + (8 / 4) * m.lora_B.weight @ m.lora_A.weight
        assert (m.merged_weight() - expected).abs().max() <= TOL
    merged_ours = merge_lora(ours).state_dict()
    merged_theirs = theirs.merge_and_unload().state_dict()
    assert merged_ours.keys() == merged_theirs.keys()
    for k in merged_ours:
        assert (merged_ours[k] - merged_theirs[k]).abs().max() <= TOL, k


def test_unmerge_restores_base():
    model = tiny_llama(0)
    inject_lora(model, LoRAConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    _randomize(model, 0)
    ids = torch.randint(0, 300, (1, 10), generator=torch.Generator().manual_seed(0))
    before = model(ids).logits
    for m in lora_modules(model).values():
        w = m.base.weight.clone()
        m.merge()
        assert (m.base.weight - w).abs().max() > 1e-4
    assert (model(ids).logits - before).abs().max() <= 1e-5
    for m in lora_modules(model).values():
        m.unmerge()
    assert (model(ids).logits - before).abs().max() <= TOL


def test_bad_configs_raise_user_error(tmp_path):
    with pytest.raises(UserError, match="match no linear"):
        inject_lora(tiny_llama(0), LoRAConfig(target_modules=["nope_proj"]))
    with pytest.raises(UserError, match="rank"):
        inject_lora(tiny_llama(0), LoRAConfig(r=65, target_modules=["q_proj"]))
    # an adapter made for another base model (hidden 64 vs 32)
    ours = tiny_llama(0)
    inject_lora(ours, LoRAConfig(r=4, target_modules=TARGETS))
    save_adapter(ours, tmp_path / "ad")
    with pytest.raises(UserError, match="does not fit"):
        load_adapter(tiny_llama(0, hidden=32), tmp_path / "ad")


@pytest.mark.parametrize("use_dora", [False, True])
def test_same_losses_as_peft_for_five_steps(peft, use_dora):
    """Same init (peft's A copied into ours), same batches, AdamW: losses agree to 1e-5."""
    theirs = _peft_model(peft, use_dora)
    ours = tiny_llama(0)
    inject_lora(ours, LoRAConfig(r=4, lora_alpha=8, target_modules=TARGETS, use_dora=use_dora))
    with torch.no_grad():
        for name, m in lora_modules(ours).items():
            layer = theirs.base_model.model.get_submodule(name)
            m.lora_A.weight.copy_(layer.lora_A["default"].weight)
            m.lora_B.weight.copy_(layer.lora_B["default"].weight)
            if use_dora:
                m.magnitude.copy_(layer.lora_magnitude_vector["default"].weight)
    g = torch.Generator().manual_seed(7)
    batches = [torch.randint(0, 300, (2, 10), generator=g)] * 5  # one batch: the loss must fall
    curves = []
    for model in (ours, theirs):
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        losses = []
        for ids in batches:
            loss = model(input_ids=ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        curves.append(losses)
    assert curves[0][-1] < curves[0][0] - 1e-3  # training moves the loss
    assert max(abs(a - b) for a, b in zip(*curves, strict=True)) <= 1e-5
