"""The labs composed from the library: what the CLI's commands and the demo call."""

from __future__ import annotations

from typing import Any

from ch11_evaluation.harness import score_generative, score_multiple_choice
from ch11_evaluation.lm import load_lm
from ch11_evaluation.tasks import load_task
from llmpath_core import atomic_write


def evaluate_task(
    task: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    device: Any = "cpu",
    limit: int | None = None,
    max_gen_toks: int = 32,
    seed: int = 0,
    lm: Any = None,
) -> dict:
    """Load a task and a model, score it, and return a JSON-ready result."""
    loaded = load_task(task)
    if loaded.kind == "humaneval":
        from llmpath_core import UserError

        raise UserError("humaneval samples are run with `ch11-evaluation code --samples FILE`")
    items = loaded.items[:limit] if limit else loaded.items
    lm = lm if lm is not None else load_lm(model, base_url=base_url, device=device or "cpu")
    if loaded.kind in ("mc", "hellaswag"):
        scores = score_multiple_choice(lm, items, seed=seed).to_dict()
    else:
        scores = score_generative(lm, items, max_gen_toks=max_gen_toks).to_dict()
    return {"task": loaded.name, "kind": loaded.kind, "model": lm.name, **scores}


def judge_checks(judge, pairs) -> dict:
    """Position consistency, verbosity probe and gold agreement of one judge."""
    from ch11_evaluation.judge import judge_agreement, position_consistency, verbosity_probe

    pos = position_consistency(judge, pairs)
    verb = verbosity_probe(judge, pairs)
    gold = judge_agreement(judge, pairs)
    return {
        "judge": judge.name,
        "consistency": pos.consistency,
        "first_position_rate": pos.first_position_rate,
        "accuracy": gold["accuracy"],
        "kappa_vs_gold": gold["kappa"],
        "verbosity_bias": verb.verbosity_bias,
        "n": pos.n,
    }


def demo(out, *, seed: int = 0, progress=print) -> dict:
    """Evaluate the default model on the bundled samples with CIs, compare it with the draft
    model (paired), run the code samples in the sandbox, check two judges, write the report."""
    from pathlib import Path

    from ch11_evaluation.codeexec import run_samples
    from ch11_evaluation.judge import LMJudge, OverlapJudge, pairs_from_mc
    from ch11_evaluation.lm import HFCausalLM
    from ch11_evaluation.report import html_report, markdown_report, scores_plot
    from ch11_evaluation.sandbox import Limits
    from ch11_evaluation.stats import clustered_stderr, paired_comparison
    from ch11_evaluation.tasks import load_code_samples
    from llmpath_core import draft_model_path, write_json

    out = Path(out)
    lm = HFCausalLM.from_folder()
    draft = HFCausalLM.from_folder(draft_model_path())
    rows, results, paired = [], {}, []
    for task in ("mmlu", "hellaswag", "gsm8k"):
        progress(f"scoring the default model on {task}")
        r = evaluate_task(
            task, lm=lm, limit=10 if task == "gsm8k" else None, max_gen_toks=24, seed=seed
        )
        results[task] = r
        metric = "exact_match" if task == "gsm8k" else "acc"
        ci = r.get("acc_ci95")
        se = r[f"{metric}_stderr"]
        low, high = ci if ci else (max(0.0, r[metric] - 1.96 * se), min(1.0, r[metric] + 1.96 * se))
        rows.append(
            {
                "task": task,
                "metric": metric,
                "value": r[metric],
                "stderr": se,
                "low": low,
                "high": high,
                "n": r["n"],
            }
        )
        if task != "gsm8k":
            progress(f"scoring the draft model on {task} (paired comparison)")
            d = evaluate_task(task, lm=draft, seed=seed)
            a = [it["acc_norm"] for it in r["items"]]
            b = [it["acc_norm"] for it in d["items"]]
            cmp = paired_comparison(a, b, seed=seed)
            paired.append(
                {
                    "task": task,
                    "metric": "acc_norm",
                    "default": cmp.mean_a,
                    "draft": cmp.mean_b,
                    "diff": cmp.diff,
                    "paired_se": cmp.paired_stderr,
                    "unpaired_se": cmp.unpaired_stderr,
                    "p_mcnemar": cmp.p_mcnemar,
                    "p_permutation": cmp.p_permutation,
                }
            )
    mmlu_items = results["mmlu"]["items"]
    subjects = [it["subject"] for it in mmlu_items]
    clustered = clustered_stderr([it["acc"] for it in mmlu_items], subjects)
    progress("running the code samples in the sandbox")
    code = run_samples(load_code_samples(), Limits(timeout_s=3.0))
    progress("checking two judges (position swap, verbosity, gold kappa)")
    from ch11_evaluation.tasks import load_task

    pairs = pairs_from_mc(load_task("mmlu").items, n=24, seed=seed)
    judges = [
        judge_checks(LMJudge(lm, "default model"), pairs),
        judge_checks(OverlapJudge(), pairs),
    ]
    sections = {
        "Scores (95% CI)": [
            {k: v for k, v in r.items() if k not in ("low", "high")}
            | {"ci95": f"[{r['low']:.3f}, {r['high']:.3f}]"}
            for r in rows
        ],
        "Clustered standard error": (
            f"mmlu acc: CLT SE {results['mmlu']['acc_stderr']:.4f} over items, clustered by "
            f"subject {clustered:.4f} (items sharing a template are not independent)."
        ),
        "Default vs draft model (paired, same items)": paired,
        "Code in the sandbox": [
            {"task_id": r["task_id"], "passed": r["passed"], "reason": r["reason"]}
            for r in code.results
        ],
        "Judges": judges,
        "Mitigations": (
            "Judge each pair in both orders and count a win only when both agree; strip or cap "
            "length before judging; report kappa against a gold-labelled sample; add CIs and "
            "paired tests before claiming a difference."
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    plot = scores_plot(rows, out / "scores.png")
    title = "ch11 evaluation report: llmpath default model"
    md = markdown_report(title, sections)
    with atomic_write(out / "report.md", "w") as f:
        f.write(md + f"\n![scores]({plot.name})\n")
    with atomic_write(out / "report.html", "w") as f:
        f.write(html_report(title, sections, image=plot.name))
    write_json(
        out / "results.json",
        {"scores": rows, "paired": paired, "judges": judges, "pass_at": code.pass_at},
    )
    m, h = results["mmlu"], results["hellaswag"]
    headline = (
        f"default model: mmlu-style acc {m['acc']:.3f}±{1.96 * m['acc_stderr']:.3f}, "
        f"hellaswag-style acc_norm {h['acc_norm']:.3f}; sandbox pass@1 "
        f"{code.pass_at[1]:.3f} with every hostile sample stopped; LM judge position-consistent "
        f"on {judges[0]['consistency']:.0%} of pairs"
    )
    return {
        "showed": "; ".join(
            [
                "lm-eval-definition acc/acc_norm with CLT and bootstrap CIs on 3 bundled tasks",
                "paired default-vs-draft comparison (paired vs unpaired SE, McNemar, permutation)",
                "clustered SE by subject",
                "sandboxed HumanEval-style execution with pass@k",
                "LLM-as-judge position swap, verbosity probe and kappa vs gold",
                "Markdown/HTML report",
            ]
        ),
        "headline": headline,
        "scores": rows,
        "paired": paired,
        "clustered_stderr_mmlu": clustered,
        "pass_at": code.pass_at,
        "judges": judges,
        "report": str(out / "report.md"),
        "markdown": md,
    }
