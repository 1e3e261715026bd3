"""Evaluation: a harness held to lm-eval, sandboxed code, LLM-as-judge, honest statistics.

The public API, one module per idea:

- :mod:`~ch11_evaluation.tasks` — task files (MMLU, HellaSwag, GSM8K, HumanEval formats);
- :mod:`~ch11_evaluation.lm` — HF model folders and OpenAI-compatible endpoints;
- :mod:`~ch11_evaluation.harness` — log-likelihood multiple choice, generation + extraction;
- :mod:`~ch11_evaluation.sandbox` and :mod:`~ch11_evaluation.codeexec` — sandboxed code, pass@k;
- :mod:`~ch11_evaluation.judge`, :mod:`~ch11_evaluation.annotate`,
  :mod:`~ch11_evaluation.agreement` — LLM-as-judge, human judgments, kappa and alpha;
- :mod:`~ch11_evaluation.fairness` — BOLD-style probes, scorers, fairness metrics;
- :mod:`~ch11_evaluation.builder` — custom benchmark checks and registration;
- :mod:`~ch11_evaluation.stats`, :mod:`~ch11_evaluation.report`, :mod:`~ch11_evaluation.store`.
"""

from ch11_evaluation.agreement import cohen_kappa, krippendorff_alpha
from ch11_evaluation.codeexec import pass_at_k, run_samples
from ch11_evaluation.harness import score_generative, score_multiple_choice
from ch11_evaluation.lm import EndpointLM, HFCausalLM, load_lm
from ch11_evaluation.sandbox import Limits, run_python
from ch11_evaluation.stats import bootstrap_ci, clustered_stderr, mean_stderr, paired_comparison
from ch11_evaluation.tasks import load_code_samples, load_task

__version__ = "0.1.0"

__all__ = [
    "EndpointLM",
    "HFCausalLM",
    "Limits",
    "bootstrap_ci",
    "clustered_stderr",
    "cohen_kappa",
    "krippendorff_alpha",
    "load_code_samples",
    "load_lm",
    "load_task",
    "mean_stderr",
    "paired_comparison",
    "pass_at_k",
    "run_python",
    "run_samples",
    "score_generative",
    "score_multiple_choice",
]
