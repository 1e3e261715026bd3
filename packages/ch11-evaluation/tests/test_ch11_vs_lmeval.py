"""Parity with lm-eval: the same local tasks and model give the same numbers.

One lm-eval run (module fixture) scores three tasks exported from the bundled samples with
:mod:`ch11_evaluation.lmeval_export`: the contract's multiple-choice format, HellaSwag's format,
and a GSM8K-style generative task. Our harness must give every per-choice log-likelihood within
1e-5, the same predictions and the same acc / acc_norm / stderr, and for GSM8K the same extracted
answers and exact match.
"""

from __future__ import annotations

import json

import pytest

from ch11_evaluation.harness import score_generative, score_multiple_choice
from ch11_evaluation.lmeval_export import export_task
from ch11_evaluation.tasks import DATA_DIR, load_task

N_MC, N_GEN, GEN_TOKS = 12, 5, 16


@pytest.fixture(scope="module")
def small_tasks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tasks")
    files = {}
    for kind, name in (
        ("mc", "mmlu_sample"),
        ("hellaswag", "hellaswag_sample"),
        ("gsm8k", "gsm8k_sample"),
    ):
        n = N_GEN if kind == "gsm8k" else N_MC
        lines = (DATA_DIR / f"{name}.jsonl").read_text().splitlines()[:n]
        path = folder / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        export_task(kind, path, folder / "yaml", f"llmpath_{kind}", max_gen_toks=GEN_TOKS)
        files[kind] = path
    return folder, files


@pytest.fixture(scope="module")
def lmeval_run(small_tasks):
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    from llmpath_core import default_model_path

    folder, _ = small_tasks
    manager = TaskManager(include_path=str(folder / "yaml"), include_defaults=False)
    return lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={default_model_path()},dtype=float32",
        tasks=["llmpath_mc", "llmpath_hellaswag", "llmpath_gsm8k"],
        task_manager=manager,
        device="cpu",
        batch_size=1,
        log_samples=True,
    )


def _theirs_lls(samples):
    ordered = sorted(samples, key=lambda s: s["doc_id"])
    return [[float(r[0]) for r in s["filtered_resps"]] for s in ordered]


@pytest.mark.parametrize("kind", ["mc", "hellaswag"])
def test_multiple_choice_matches_lmeval(kind, small_tasks, lmeval_run, default_lm):
    _, files = small_tasks
    ours = score_multiple_choice(default_lm, load_task(f"{kind}:{files[kind]}").items)
    theirs = lmeval_run["results"][f"llmpath_{kind}"]
    their_lls = _theirs_lls(lmeval_run["samples"][f"llmpath_{kind}"])
    assert len(their_lls) == ours.n == N_MC
    worst = max(
        abs(a - b)
        for item, lls in zip(ours.per_item, their_lls, strict=True)
        for a, b in zip(item["loglikelihoods"], lls, strict=True)
    )
    assert worst < 1e-5, worst
    assert ours.acc == pytest.approx(theirs["acc,none"], abs=1e-12)
    assert ours.acc_norm == pytest.approx(theirs["acc_norm,none"], abs=1e-12)
    assert ours.acc_stderr == pytest.approx(theirs["acc_stderr,none"], abs=1e-12)
    assert ours.acc_norm_stderr == pytest.approx(theirs["acc_norm_stderr,none"], abs=1e-12)


def test_generative_exact_match_matches_lmeval(small_tasks, lmeval_run, default_lm):
    _, files = small_tasks
    ours = score_generative(
        default_lm, load_task(f"gsm8k:{files['gsm8k']}").items, max_gen_toks=GEN_TOKS
    )
    samples = sorted(lmeval_run["samples"]["llmpath_gsm8k"], key=lambda s: s["doc_id"])
    assert [s["resps"][0][0] for s in samples] == [r["generation"] for r in ours.per_item]
    assert [s["filtered_resps"][0] for s in samples] == [r["extracted"] for r in ours.per_item]
    assert [s["exact_match"] for s in samples] == [r["exact_match"] for r in ours.per_item]
    key = "exact_match,flexible-extract"
    assert ours.exact_match == pytest.approx(lmeval_run["results"]["llmpath_gsm8k"][key])
    json.dumps(ours.to_dict())
