"""``ch11-evaluation``: run, code, judge, annotate, fairness, build, compare, report, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch11-evaluation",
    "Evaluate language models: an lm-eval-compatible harness, sandboxed code execution, "
    "LLM-as-judge with bias checks, human annotation, fairness, custom benchmarks, statistics.",
)

MODEL_HELP = (
    "HF causal LM folder (default: llmpath's default model), or a model name with --base-url"
)


@command(app, out=False)
def run(
    run: Run,
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    task: str = typer.Option(
        "mmlu", "--task", help="KIND:FILE.jsonl (mc, mmlu, hellaswag, gsm8k) or a bundled sample"
    ),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint, e.g. http://host:8000/v1"),
    limit: int = typer.Option(None, help="score only the first N items"),
    max_gen_toks: int = typer.Option(32, help="generation budget (gsm8k)"),
    items: bool = typer.Option(True, "--items/--no-items", help="include per-item results"),
    store: Path = typer.Option(None, help="append the scores to this results store (SQLite)"),
    version: str = typer.Option(None, help="model version label for the results store"),
) -> dict:
    """Score a model on a task: acc/acc_norm (multiple choice) or exact match (generation)."""
    from ch11_evaluation.labs import evaluate_task

    _one_thread()
    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    result = evaluate_task(
        task,
        model,
        base_url=base_url,
        device=run.device,
        limit=limit,
        max_gen_toks=max_gen_toks,
        seed=run.seed,
    )
    if store is not None:
        from ch11_evaluation.store import ResultsStore

        ResultsStore(store).append(result, version=version)
    metric_keys = [k for k in ("acc", "acc_norm", "exact_match") if k in result]
    run.table(
        [
            {
                "metric": k,
                "value": f"{result[k]:.4f}",
                "stderr": f"{result.get(k + '_stderr', float('nan')):.4f}",
            }
            for k in metric_keys
        ],
        title=f"{result['task']} ({result['kind']}, n={result['n']}) on {result['model']}",
    )
    if not items:
        result.pop("items", None)
    return result


@command(app, device=False, out=False)
def code(
    run: Run,
    samples: Path = typer.Option(
        None, "--samples", help="HumanEval-style JSONL (default: the bundled samples)"
    ),
    timeout: float = typer.Option(5.0, help="wall-clock seconds per sample"),
    memory_mb: int = typer.Option(512, help="address-space limit per sample"),
    max_output: int = typer.Option(1 << 20, help="bytes a sample may write (output included)"),
    workers: int = typer.Option(2, help="samples run at the same time"),
) -> dict:
    """Run HumanEval-style completions in the sandbox and report pass@k."""
    from ch11_evaluation.codeexec import run_samples
    from ch11_evaluation.sandbox import Limits
    from ch11_evaluation.tasks import load_code_samples

    if timeout <= 0 or memory_mb < 64 or max_output < 1024 or workers < 1:
        raise UserError(
            "limits must be positive: --timeout > 0, --memory-mb >= 64, --max-output >= 1024, "
            "--workers >= 1"
        )
    loaded = load_code_samples(samples)
    result = run_samples(loaded, Limits(timeout, memory_mb, max_output), workers=workers)
    run.table(
        [
            {"task_id": r["task_id"], "passed": r["passed"], "reason": r["reason"][:70]}
            for r in result.results
        ],
        title="sandboxed execution",
    )
    if not run.json:
        print("  ".join(f"pass@{k} = {v:.3f}" for k, v in result.pass_at.items()))
    return result.to_dict()


@command(app, out=False)
def judge(
    run: Run,
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for the judge model"),
    pairs: int = typer.Option(24, help="judge pairs built from the bundled MMLU-style sample"),
) -> dict:
    """Check a judge: position-swap consistency, verbosity bias, kappa against gold labels."""
    from ch11_evaluation.judge import LMJudge, OverlapJudge, pairs_from_mc
    from ch11_evaluation.labs import judge_checks
    from ch11_evaluation.lm import load_lm
    from ch11_evaluation.tasks import load_task

    if pairs < 2:
        raise UserError("--pairs must be at least 2")
    _one_thread()
    made = pairs_from_mc(load_task("mmlu").items, n=pairs, seed=run.seed)
    lm = load_lm(model, base_url=base_url, device=run.device)
    rows = [judge_checks(LMJudge(lm), made), judge_checks(OverlapJudge(), made)]
    run.table(rows, title="judge checks")
    return {"judges": rows}


@command(app, device=False, out=False)
def annotate(
    run: Run,
    db: Path = typer.Option(
        None, help="SQLite file (default: $LLMPATH_HOME/ch11/annotations.sqlite)"
    ),
    items: Path = typer.Option(
        None, help='JSONL of {"question", "a", "b"} (default: bundled pairs)'
    ),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8011, help="port (0 = any free port)"),
    duration: float = typer.Option(0, help="stop after N seconds (0 = until Ctrl-C)"),
    export: bool = typer.Option(False, help="do not serve: print judgments and agreement"),
) -> dict:
    """A web app for pairwise human judgments (SQLite), with kappa/alpha and export."""
    import threading

    from ch11_evaluation.annotate import AnnotationDB, items_from_pairs, make_server
    from ch11_evaluation.judge import pairs_from_mc
    from ch11_evaluation.tasks import load_task, read_jsonl
    from llmpath_core import artefact_path

    store = AnnotationDB(db or artefact_path("ch11", "annotations.sqlite"))
    if items is not None:
        rows = []
        for n, obj in read_jsonl(items):
            missing = [k for k in ("question", "a", "b") if not isinstance(obj.get(k), str)]
            if missing:
                raise UserError(f"{items}:{n}: missing field {missing[0]!r}")
            rows.append({"item_id": str(obj.get("item_id", n)), **obj})
        store.add_items(rows)
    elif not store.items():
        store.add_items(items_from_pairs(pairs_from_mc(load_task("mmlu").items, n=12)))
    if not export:
        try:
            server = make_server(store, host, port)
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        run.log(f"annotation app on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")
        if duration > 0:
            threading.Timer(duration, server.shutdown).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    result = {
        "db": str(store.path),
        "items": len(store.items()),
        "judgments": store.judgments(),
        "agreement": store.agreement(),
    }
    run.table(
        [
            {
                "annotators": len(result["agreement"]["annotators"]),
                "judgments": len(result["judgments"]),
                "alpha": result["agreement"]["alpha"],
            }
        ]
    )
    return result


@command(app, out=False)
def fairness(
    run: Run,
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint"),
    max_gen_toks: int = typer.Option(12, help="tokens generated per prompt"),
) -> dict:
    """BOLD-style prompts across groups: sentiment (lexicon, classifier) and toxicity per group."""
    from ch11_evaluation.fairness import bias_probe
    from ch11_evaluation.lm import load_lm

    _one_thread()
    lm = load_lm(model, base_url=base_url, device=run.device)
    result = bias_probe(lm, max_gen_toks=max_gen_toks, seed=run.seed)
    run.table(
        [
            {
                "group": g,
                "lexicon": f"{v['mean']:.3f}",
                "classifier": f"{result['classifier_positive']['groups'][g]['mean']:.3f}",
                "toxic": f"{result['toxicity_rate']['groups'][g]['mean']:.3f}",
                "n": v["n"],
            }
            for g, v in result["lexicon_sentiment"]["groups"].items()
        ],
        title="per-group scores of the continuations",
    )
    return result


@command(app, out=False)
def build(
    run: Run,
    task: Path = typer.Argument(None, help="mc JSONL to validate (default: the bundled sample)"),
    corpus: str = typer.Option(
        "mix",
        help="training corpus for contamination: a bundled name "
        "(stories, prose, pydoc, mix) or a text file",
    ),
    ngram: int = typer.Option(13, help="n-gram length for contamination"),
    register: str = typer.Option(None, help="register under this name if the checks pass"),
    registry: Path = typer.Option(None, help="registry folder (default: $LLMPATH_HOME/ch11/tasks)"),
    model: str = typer.Option(None, "--model", help="model for the difficulty spread"),
) -> dict:
    """Validate a custom benchmark (schema, duplicates, leaks, contamination, difficulty)."""
    from ch11_evaluation.builder import register_task, validate_task
    from ch11_evaluation.lm import load_lm
    from ch11_evaluation.tasks import DATA_DIR
    from llmpath_core import artefact_path, load_text

    if ngram < 3:
        raise UserError("--ngram must be at least 3")
    path = task or DATA_DIR / "mmlu_sample.jsonl"
    if Path(corpus).is_file():
        text = Path(corpus).read_text(encoding="utf-8", errors="replace")
    elif corpus in ("stories", "prose", "pydoc", "mix", "docstrings"):
        text = load_text(corpus, split="train", max_chars=2_000_000)
    else:
        raise UserError(f"--corpus {corpus!r} is neither a file nor a bundled corpus")
    _one_thread()
    lm = load_lm(model, device=run.device)
    v = validate_task(path, corpus=text, ngram=ngram, lm=lm)
    result = {"task": str(path), **v.to_dict()}
    if register:
        target = register_task(path, registry or artefact_path("ch11", "tasks"), register, v)
        result["registered"] = str(target)
    run.table(
        [
            {"check": k, "result": str(result[k])[:80]}
            for k in (
                "n",
                "duplicates",
                "answer_leaks",
                "gold_position_counts",
                "contaminated",
                "passed",
            )
        ]
    )
    return result


@command(app, out=False)
def compare(
    run: Run,
    a: str = typer.Option(None, "--a", help="first model folder (default: the default model)"),
    b: str = typer.Option(None, "--b", help="second model folder (default: the draft model)"),
    task: list[str] = typer.Option(None, "--task", help="tasks (default: mmlu and hellaswag)"),
    correction: str = typer.Option("holm", help="multiple comparisons: bonferroni, holm, bh"),
) -> dict:
    """Two models on the same items: paired differences, tests, corrected p-values."""
    from ch11_evaluation.labs import evaluate_task
    from ch11_evaluation.lm import load_lm
    from ch11_evaluation.stats import adjust_pvalues, paired_comparison
    from llmpath_core import draft_model_path

    if correction not in ("bonferroni", "holm", "bh"):
        raise UserError(f"unknown --correction {correction!r}: use bonferroni, holm or bh")
    _one_thread()
    lm_a = load_lm(a, device=run.device)
    lm_b = load_lm(b or str(draft_model_path()), device=run.device)
    rows = []
    for t in task or ["mmlu", "hellaswag"]:
        ra, rb = evaluate_task(t, lm=lm_a), evaluate_task(t, lm=lm_b)
        metric = "exact_match" if ra["kind"] == "gsm8k" else "acc_norm"
        cmp = paired_comparison(
            [i[metric] for i in ra["items"]], [i[metric] for i in rb["items"]], seed=run.seed
        )
        rows.append({"task": t, "metric": metric, **cmp.to_dict()})
    adjusted = adjust_pvalues([r["p_permutation"] for r in rows], correction)
    for r, p in zip(rows, adjusted, strict=True):
        r["p_adjusted"] = p
    run.table(
        [
            {
                k: (f"{v:.4f}" if isinstance(v, float) else v)
                for k, v in r.items()
                if k
                in (
                    "task",
                    "mean_a",
                    "mean_b",
                    "diff",
                    "paired_stderr",
                    "unpaired_stderr",
                    "p_permutation",
                    "p_adjusted",
                )
            }
            for r in rows
        ]
    )
    return {"a": lm_a.name, "b": lm_b.name, "correction": correction, "comparisons": rows}


@command(app, device=False, out_help="HTML file (default: next to the store)")
def dashboard(
    run: Run,
    store: Path = typer.Option(
        None, help="results store (default: $LLMPATH_HOME/ch11/runs.sqlite)"
    ),
    metric: str = typer.Option("acc", help="metric to plot"),
) -> dict:
    """Write the dashboard page of a results store (scores over model versions)."""
    from ch11_evaluation.store import ResultsStore
    from llmpath_core import artefact_path

    path = store or artefact_path("ch11", "runs.sqlite")
    if store is not None and not Path(store).is_file():
        raise UserError(f"results store not found: {store} (fill it with `run --store`)")
    results = ResultsStore(path)
    out = results.dashboard(run.out_path(Path(path).with_suffix(".html")), metric=metric)
    return {"dashboard": str(out), "rows": len(results.rows())}


@command(app, out_help="folder for the report (default: $LLMPATH_HOME/ch11/demo)")
def demo(run: Run) -> dict:
    """The chapter in about two minutes: scores with CIs, a paired comparison, the sandbox,
    a judge consistency check, and the report."""
    from ch11_evaluation.labs import demo as run_demo
    from llmpath_core import artefact_path

    _one_thread()
    out = run.out_path(artefact_path("ch11", "demo"))
    result = run_demo(out, seed=run.seed, progress=run.log)
    if not run.json:
        print(result["markdown"])
        print(f"\nreport: {result['report']}")
    run.shown = True
    result.pop("markdown")
    return result


def _one_thread() -> None:
    """The models here are tiny: one intra-op thread is fastest, and kinder to a shared box."""
    import torch

    torch.set_num_threads(1)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
