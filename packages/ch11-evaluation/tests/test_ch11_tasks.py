"""Task files: the bundled samples are the generator's output; every format loads."""

from __future__ import annotations

import pytest

from ch11_evaluation import samples
from ch11_evaluation.tasks import DATA_DIR, gsm8k_target, load_code_samples, load_task


@pytest.mark.parametrize("name", sorted(samples.FILES))
def test_bundled_samples_are_the_generator_output(name):
    assert (DATA_DIR / name).read_text() == samples.render(samples.FILES[name]())


def test_every_format_loads():
    mmlu = load_task("mmlu")
    assert mmlu.kind == "mc" and len(mmlu.items) == 40
    assert mmlu.items[0].context.startswith("Question: ")
    assert mmlu.items[0].context.endswith("\nAnswer:")
    hs = load_task("hellaswag")
    assert hs.kind == "hellaswag" and all(0 <= it.answer < 4 for it in hs.items)
    assert hs.items[0].context.startswith("Story: ")
    gsm = load_task("gsm8k")
    assert all(it.target.lstrip("-").isdigit() for it in gsm.items)
    assert gsm8k_target("so 1,234 in all.\n#### 1,234") == "1234"
    code = load_code_samples()
    assert len({s.task_id for s in code}) == 5 and len(code) == 15
