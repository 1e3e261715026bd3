"""Our IA3 held to peft's on a tiny llama: parameter count, outputs both ways, merge, training."""

from __future__ import annotations

import pytest
import torch

from ch09_sft.ia3 import IA3Config, ia3_modules, inject_ia3, save_ia3
from ch09_sft.lora import count_parameters, load_adapter, merge_lora
from llmpath_core import UserError
from llmpath_core.testing import tiny_llama

TOL = 1e-6  # max abs difference of logits / weights, fp32
TARGETS = ["k_proj", "v_proj", "down_proj"]
FF = ["down_proj"]


def _peft_ia3(peft):
    cfg = peft.IA3Config(target_modules=TARGETS, feedforward_modules=FF, task_type="CAUSAL_LM")
    return peft.get_peft_model(tiny_llama(0), cfg)


def _ids(seed):
    return torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(seed))


def test_ia3_parameter_count_and_shapes_match_peft(peft):
    ours = tiny_llama(0)
    inject_ia3(ours, IA3Config(TARGETS, FF))
    theirs = _peft_ia3(peft)
    assert count_parameters(ours) == theirs.get_nb_trainable_parameters()
    for name, m in ia3_modules(ours).items():
        assert m.ia3_l.shape == theirs.base_model.model.get_submodule(name).ia3_l["default"].shape
        assert m.is_feedforward == name.endswith("down_proj")


def test_peft_loads_our_ia3_and_we_load_peft_ia3(peft, tmp_path):
    ids = _ids(1)
    base_logits = tiny_llama(0)(ids).logits
    ours = tiny_llama(0)
    inject_ia3(ours, IA3Config(TARGETS, FF))
    assert (ours(ids).logits - base_logits).abs().max() <= TOL  # ones at init: no change
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in ia3_modules(ours).values():
            m.ia3_l.add_(0.3 * torch.randn(m.ia3_l.shape, generator=g))
    save_ia3(ours, tmp_path / "ours")
    theirs = peft.PeftModel.from_pretrained(tiny_llama(0), tmp_path / "ours").eval()
    ours_logits = ours(ids).logits
    assert (ours_logits - base_logits).abs().max() > 1e-3
    assert (ours_logits - theirs(ids).logits).abs().max() <= TOL
    # the other way: peft's saved adapter (random vectors) loaded by us, then merged like peft
    p = _peft_ia3(peft)
    with torch.no_grad():
        for name, q in p.named_parameters():
            if "ia3_l" in name:
                q.add_(0.3 * torch.randn(q.shape, generator=g))
    p.save_pretrained(tmp_path / "peft")
    loaded = load_adapter(tiny_llama(0), tmp_path / "peft")
    p.eval()
    assert (loaded(ids).logits - p(ids).logits).abs().max() <= TOL
    mine = merge_lora(loaded).state_dict()
    merged = p.merge_and_unload().state_dict()
    assert mine.keys() == merged.keys()
    assert max(float((mine[k] - merged[k]).abs().max()) for k in mine) <= TOL
    assert not ia3_modules(loaded)


def test_ia3_same_losses_as_peft_for_five_steps(peft):
    theirs = _peft_ia3(peft)
    ours = tiny_llama(0)
    inject_ia3(ours, IA3Config(TARGETS, FF))
    ids = _ids(7)
    curves = []
    for model in (ours, theirs):
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
        losses = []
        for _ in range(5):
            loss = model(input_ids=ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        curves.append(losses)
    assert curves[0][-1] < curves[0][0] - 1e-3
    assert max(abs(a - b) for a, b in zip(*curves, strict=True)) <= 1e-5


def test_ia3_bad_config():
    with pytest.raises(UserError, match="match no linear"):
        inject_ia3(tiny_llama(0), IA3Config(["nope"], []))
    with pytest.raises(UserError, match="feedforward"):
        inject_ia3(tiny_llama(0), IA3Config(["k_proj"], ["down_proj"]))
