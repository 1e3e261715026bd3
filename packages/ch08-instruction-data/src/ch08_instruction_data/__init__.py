"""ch08-instruction-data: chat templates byte-identical to Hugging Face, an instruction-dataset
pipeline, synthetic conversations, and quality scoring that is tested by fine-tuning.

Modules, one idea each:

- :mod:`~ch08_instruction_data.templates` — ChatML, Llama-2, Llama-3, Alpaca and role-play Jinja
  templates, our renderer and assistant masks, special-token checks, truncation, installation;
- :mod:`~ch08_instruction_data.tasks` — seeds, verifiable task families, planted bad records;
- :mod:`~ch08_instruction_data.generate` — self-instruct and evol-instruct with any completer;
- :mod:`~ch08_instruction_data.filters` — format, length, refusal, language, dedup, ROUGE-L;
- :mod:`~ch08_instruction_data.quality` — judges and per-record / per-dataset scores;
- :mod:`~ch08_instruction_data.pipeline` — the resumable build and the JSONL format;
- :mod:`~ch08_instruction_data.conversations` — multi-turn synthetic conversations;
- :mod:`~ch08_instruction_data.selection` — SFT on all data vs the top-scored subset.
"""

from ch08_instruction_data.filters import FilterConfig, apply_filters, rouge_l
from ch08_instruction_data.pipeline import (
    BuildConfig,
    build_dataset,
    read_jsonl,
    select_by_score,
    top_scored,
    write_jsonl,
)
from ch08_instruction_data.quality import LLMJudge, RuleJudge, dataset_report, score_record
from ch08_instruction_data.tasks import SEEDS, plant_noise, template_records
from ch08_instruction_data.templates import (
    TEMPLATES,
    ChatTemplate,
    assistant_mask,
    ensure_special_tokens,
    get_template,
    install_template,
    render,
    render_text,
    tokenize_chat,
    truncate_turns,
)

__all__ = [
    "SEEDS",
    "TEMPLATES",
    "BuildConfig",
    "ChatTemplate",
    "FilterConfig",
    "LLMJudge",
    "RuleJudge",
    "apply_filters",
    "assistant_mask",
    "build_dataset",
    "dataset_report",
    "ensure_special_tokens",
    "get_template",
    "install_template",
    "plant_noise",
    "read_jsonl",
    "render",
    "render_text",
    "rouge_l",
    "score_record",
    "select_by_score",
    "template_records",
    "tokenize_chat",
    "top_scored",
    "truncate_turns",
    "write_jsonl",
]
