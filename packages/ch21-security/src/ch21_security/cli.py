"""``ch21-security``: scan, detect, epsilon, serve-target, proxy, pii, dpsgd, federated, bias,
demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch21-security",
    "Security: an OWASP LLM Top 10 scanner, injection and jailbreak detection, a guardrail "
    "proxy, bias audits and DP-SGD privacy.",
)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@command(app, device=False, out_help="folder for report.json and report.html")
def scan(
    run: Run,
    target: str = typer.Option(
        None, "--target", help="OpenAI-compatible base URL (default: start the built-in target)"
    ),
    secret: list[str] = typer.Option(
        None, "--secret", help="a string whose appearance in a reply is a leak (repeatable)"
    ),
    timeout: float = typer.Option(120.0, help="seconds per request"),
    model: str = typer.Option(
        "target", "--model", help="model name sent with every probe (the --target's model id)"
    ),
) -> dict:
    """Run the OWASP probes against an endpoint; report findings and the attack success rate."""
    from ch21_security.labs import TARGET_SECRETS
    from ch21_security.scanner import scan as run_scan
    from ch21_security.scanner import write_report

    secrets = list(secret or [])
    if target is None:
        from ch21_security.target import start_target

        _one_thread()
        with start_target() as server:
            report = run_scan(
                server.url, secrets=secrets or TARGET_SECRETS, timeout=timeout, progress=run.log
            )
    else:
        report = run_scan(target, secrets=secrets, timeout=timeout, progress=run.log, model=model)
    from llmpath_core.paths import artefact_path

    report["report_files"] = write_report(
        report, run.out_path(artefact_path("ch21-security", "scan-report"))
    )
    run.table(
        [
            {
                "probe": f["probe"],
                "owasp": f["owasp"],
                "verdict": "VULNERABLE" if f["success"] else "ok",
                "http": f["status"],
                "evidence": f["evidence"][:60],
            }
            for f in report["findings"]
        ],
        title=f"{report['target']}: attack success rate {report['attack_success_rate']:.1%}",
    )
    return report


def _read_jsonl(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    texts = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise UserError(f"{path}:{i}: not valid JSON") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise UserError(f'{path}:{i}: each line must be an object with a string "text"')
        texts.append(obj["text"])
    return texts


@command(app, device=False, out=False)
def detect(
    run: Run,
    input: Path = typer.Option(
        None,
        "--input",
        help='JSONL file, one {"text": ...} per line (default: evaluate on the held-out set)',
    ),
    canary: list[str] = typer.Option(
        None, "--canary", help="canary token whose presence flags a text (repeatable)"
    ),
) -> dict:
    """Classify texts as prompt injections/jailbreaks, or report P/R/F1 on the held-out set."""
    from ch21_security.detector import default_detector, evaluate_detector

    if input is None:
        result = evaluate_detector(seed=0)
        run.table(
            [
                {
                    "detector": k,
                    **{m: f"{v:.3f}" for m, v in result[k].items() if m != "n"},
                    "n": result[k]["n"],
                }
                for k in ("detector", "heuristics_only")
            ],
            title="held-out templates",
        )
        return result
    texts = _read_jsonl(input)
    found = default_detector(canary or []).detect(texts)
    results = [d.to_dict() for d in found]
    run.table(
        [
            {"text": t[:70], "injection": r["injection"], "score": f"{r['score']:.3f}"}
            for t, r in zip(texts, results, strict=True)
        ]
    )
    return {"results": results, "flagged": sum(r["injection"] for r in results), "n": len(results)}


@command(app, device=False, out=False)
def epsilon(
    run: Run,
    noise_multiplier: float = typer.Option(
        1.1, "--noise-multiplier", help="noise std / clipping norm (sigma)"
    ),
    sample_rate: float = typer.Option(
        0.01, "--sample-rate", help="Poisson sampling rate q = batch / dataset"
    ),
    steps: int = typer.Option(1000, "--steps", help="number of DP-SGD steps"),
    delta: float = typer.Option(1e-5, "--delta", help="delta of (epsilon, delta)-DP, in (0, 1)"),
) -> dict:
    """Epsilon spent by DP-SGD, from our RDP accountant (the sampled Gaussian mechanism)."""
    from ch21_security.accountant import compute_epsilon

    result = compute_epsilon(noise_multiplier, sample_rate, steps, delta)
    return {
        **result,
        "noise_multiplier": noise_multiplier,
        "sample_rate": sample_rate,
        "steps": steps,
        "delta": delta,
    }


@command(app, "serve-target", device=False, out=False)
def serve_target(
    run: Run,
    port: int = typer.Option(8000, help="port on 127.0.0.1"),
) -> dict:
    """Serve the built-in target (default model, planted secret) until interrupted."""
    from ch21_security.target import start_target

    _one_thread()
    server = start_target(port)
    run.log(f"target listening on {server.url} (Ctrl-C to stop)")
    try:
        server.thread.join()
    finally:
        server.close()
    return {"url": server.url}


@command(app, device=False, out=False)
def proxy(
    run: Run,
    upstream: str = typer.Option(..., "--upstream", help="OpenAI-compatible base URL to protect"),
    port: int = typer.Option(8001, help="port on 127.0.0.1"),
    secret: list[str] = typer.Option(
        None, "--secret", help="string to redact from replies (repeatable)"
    ),
    log: Path = typer.Option(None, "--log", help="safety log (JSON lines)"),
    review: Path = typer.Option(None, "--review", help="human review queue (JSON lines)"),
    allow_tool: list[str] = typer.Option(
        None, "--allow-tool", help="tool the upstream may call (repeatable)"
    ),
) -> dict:
    """Run the guardrail proxy in front of an upstream until interrupted."""
    from ch21_security.proxy import GuardrailConfig, start_proxy
    from ch21_security.scanner import check_reachable

    check_reachable(upstream)
    config = GuardrailConfig(
        secrets=secret or [], log_path=log, review_path=review, allowed_tools=allow_tool or []
    )
    server, _ = start_proxy(upstream, config, port)
    run.log(f"guardrail proxy on {server.url} -> {upstream} (Ctrl-C to stop)")
    try:
        server.thread.join()
    finally:
        server.close()
    return {"url": server.url}


@command(app, device=False, out=False)
def pii(
    run: Run,
    text: str = typer.Option(
        None, "--text", help="redact this text (default: score the labelled set)"
    ),
    n: int = typer.Option(300, help="labelled sentences"),
) -> dict:
    """Redact PII in a text, or score our recognizers on the generated labelled set."""
    from ch21_security.pii import find_pii, labelled_set, redact, span_scores

    if text is not None:
        red, spans = redact(text)
        run.show(red)
        return {"redacted": red, "entities": [s.__dict__ for s in spans]}
    scores = span_scores(find_pii, labelled_set(n, seed=run.seed))
    run.table(
        [
            {"type": t, **{k: f"{v:.3f}" if isinstance(v, float) else v for k, v in s.items()}}
            for t, s in scores.items()
        ]
    )
    return {"scores": scores}


@command(app, device=False, out=False)
def dpsgd(
    run: Run,
    noise: list[float] = typer.Option(
        None, "--noise", help="noise multipliers (0 = plain SGD; repeatable)"
    ),
    seeds: int = typer.Option(2, help="seeds per noise level"),
    epochs: int = typer.Option(40, help="epochs per run"),
) -> dict:
    """DP-SGD from scratch: test accuracy and membership-inference advantage against epsilon."""
    from ch21_security.membership import privacy_curve

    _one_thread()
    levels = tuple(noise) if noise else (0.0, 0.6, 1.0, 2.0, 4.0)
    if any(z < 0 for z in levels):
        raise UserError("--noise must be >= 0")
    rows = privacy_curve(levels, seeds=tuple(range(run.seed, run.seed + seeds)), epochs=epochs)
    run.table(
        [{k: f"{v:.3f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows],
        title="DP-SGD on the synthetic task (epsilon at delta=1e-5)",
    )
    return {"curve": rows}


@command(app, device=False, out=False)
def federated(
    run: Run,
    clients: int = typer.Option(8, help="simulated clients"),
    rounds: int = typer.Option(15, help="communication rounds"),
    noise_multiplier: float = typer.Option(
        1.0, "--noise-multiplier", help="DP-FedAvg noise (0 = off)"
    ),
    clip: float = typer.Option(0.5, help="L2 clip of each client update (DP-FedAvg)"),
) -> dict:
    """Federated averaging on non-IID clients, plain and with client-level DP."""
    from ch21_security.federated import fedavg

    _one_thread()
    if clients < 2 or rounds < 1:
        raise UserError("--clients must be >= 2 and --rounds >= 1")
    plain = fedavg(clients, rounds, seed=run.seed)
    private = (
        fedavg(clients, rounds, clip=clip, noise_multiplier=noise_multiplier, seed=run.seed)
        if noise_multiplier > 0
        else None
    )
    rows = [
        {
            "setting": "FedAvg",
            "test_accuracy": plain["test_accuracy"],
            "local_only": plain["local_only_accuracy"],
            "epsilon": "-",
        }
    ]
    if private:
        rows.append(
            {
                "setting": f"DP-FedAvg (sigma={noise_multiplier}, C={clip})",
                "test_accuracy": private["test_accuracy"],
                "local_only": private["local_only_accuracy"],
                "epsilon": f"{private['client_level_epsilon']:.2f}",
            }
        )
    run.table(rows)
    return {"fedavg": plain, "dp_fedavg": private}


@command(app, device=False, out=False)
def bias(run: Run) -> dict:
    """Audit the default model across demographic templates, before and after a prompt policy."""
    from ch21_security.bias import bias_report

    _one_thread()
    report = bias_report(seed=run.seed)
    rows = []
    for phase in ("before", "after"):
        for g, v in report[phase]["groups"].items():
            rows.append(
                {
                    "phase": phase,
                    "group": g,
                    "regard": f"{v['regard']:.3f}",
                    "ci95": f"[{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}]",
                }
            )
    run.table(rows)
    return report


@command(app, device=False, out_help="folder for the compliance records")
def compliance(run: Run) -> dict:
    """Scan the built-in target through the logged proxy; export the compliance records."""
    import tempfile

    from ch21_security.compliance import export_compliance
    from ch21_security.labs import TARGET_SECRETS
    from ch21_security.proxy import GuardrailConfig, start_proxy
    from ch21_security.scanner import scan as run_scan
    from ch21_security.target import CANARY, SECRET, start_target
    from llmpath_core.paths import artefact_path

    _one_thread()
    with tempfile.TemporaryDirectory() as tmp, start_target() as target:
        config = GuardrailConfig(
            secrets=[SECRET],
            canaries=[CANARY],
            log_path=Path(tmp) / "safety.jsonl",
            review_path=Path(tmp) / "review.jsonl",
        )
        proxy, _ = start_proxy(target.url, config)
        with proxy:
            report = run_scan(proxy.url, secrets=TARGET_SECRETS, progress=run.log)
        folder = run.out_path(artefact_path("ch21-security", "compliance"))
        result = export_compliance(folder, config, report)
    run.table(result["checklist"], title=f"compliance records in {folder}")
    return result


@command(app, device=False, out=False)
def demo(run: Run) -> dict:
    """Scan the built-in target with and without the guardrail; print the DP epsilon table."""
    from ch21_security.labs import epsilon_table, guardrail_experiment

    _one_thread()
    result = guardrail_experiment(progress=run.log)
    before, after = result["unguarded"], result["guarded"]
    rows = []
    for cat in sorted(before["by_category"]):
        b, a = before["by_category"][cat], after["by_category"].get(cat, {"successes": 0})
        rows.append(
            {
                "OWASP": cat,
                "probes": b["probes"],
                "unguarded": b["successes"],
                "guarded": a["successes"],
            }
        )
    rows.append(
        {
            "OWASP": "attack success rate",
            "probes": before["attacks"],
            "unguarded": f"{before['attack_success_rate']:.1%}",
            "guarded": f"{after['attack_success_rate']:.1%}",
        }
    )
    run.table(rows, title="Scanner on the built-in target, without and with the guardrail proxy")
    benign = result["benign"]
    run.table(
        [
            {
                "benign prompts": benign["n"],
                "false blocks": f"{benign['false_block_rate']:.1%}",
                "replies changed": f"{benign['changed_rate']:.1%}",
                "proxy overhead (s/request)": f"{benign['overhead_s']:.3f}",
            }
        ]
    )
    eps = epsilon_table()
    run.table(
        [{k: f"{v:.2f}" if isinstance(v, float) else v for k, v in r.items()} for r in eps],
        title="DP-SGD epsilon at q=0.01, delta=1e-5 (RDP accountant)",
    )
    headline = (
        f"attack success rate {before['attack_success_rate']:.1%} -> "
        f"{after['attack_success_rate']:.1%} "
        f"with the guardrail ({result['asr_drop']:.0%} drop), "
        f"{benign['false_block_rate']:.0%} benign prompts blocked"
    )
    return {
        "showed": (
            "the OWASP scanner against the built-in target without and with the guardrail "
            "proxy, benign traffic through the proxy, and a DP-SGD epsilon table"
        ),
        "headline": headline,
        "attack_success_rate_unguarded": before["attack_success_rate"],
        "attack_success_rate_guarded": after["attack_success_rate"],
        "asr_drop": result["asr_drop"],
        "benign": benign,
        "by_category": rows,
        "epsilon_table": eps,
        "review_queue": result["review_queue"],
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
