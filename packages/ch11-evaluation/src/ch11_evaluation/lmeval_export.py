"""Write a task file as an lm-eval task (YAML), so the same items run under ``lm_eval`` too.

``lm_eval --model hf --model_args pretrained=DIR --include_path FOLDER --tasks NAME`` then scores
the same local JSONL with the same prompt, the same continuations and the same answer
extraction as :mod:`ch11_evaluation.harness`; the tests and ``benchmarks/bench_vs_lmeval.py``
hold the two to each other. Nothing here imports lm-eval: the output is plain YAML.
"""

from __future__ import annotations

import json
from pathlib import Path

from ch11_evaluation.harness import GSM8K_IGNORE, GSM8K_UNTIL, NUMBER_REGEX

MC_TEMPLATE = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: multiple_choice
doc_to_text: {doc_to_text}
doc_to_choice: "{{{{{choices}}}}}"
doc_to_target: {target}
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""

GEN_TEMPLATE = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: {until}
  do_sample: false
  max_gen_toks: {max_gen_toks}
filter_list:
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: {regex}
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: {ignore}
"""


def export_task(
    kind: str, data: str | Path, folder: str | Path, name: str, *, max_gen_toks: int = 32
) -> Path:
    """Write ``folder/name.yaml`` for a ``mc``, ``hellaswag`` or ``gsm8k`` JSONL file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = json.dumps(str(Path(data).resolve()))
    if kind in ("mc", "mmlu"):
        text = MC_TEMPLATE.format(
            name=name,
            path=path,
            choices="choices",
            target="answer",
            doc_to_text=json.dumps("Question: {{question}}\nAnswer:"),
        )
    elif kind == "hellaswag":
        text = MC_TEMPLATE.format(
            name=name,
            path=path,
            choices="endings",
            target='"{{label}}"',
            doc_to_text=json.dumps("{% if activity_label %}{{activity_label}}: {% endif %}{{ctx}}"),
        )
    elif kind == "gsm8k":
        text = GEN_TEMPLATE.format(
            name=name,
            path=path,
            until=json.dumps(GSM8K_UNTIL),
            max_gen_toks=max_gen_toks,
            regex=json.dumps(NUMBER_REGEX),
            ignore=json.dumps(GSM8K_IGNORE),
        )
    else:
        raise ValueError(f"no lm-eval export for task kind {kind!r}")
    out = folder / f"{name}.yaml"
    out.write_text(text, encoding="utf-8")
    return out
