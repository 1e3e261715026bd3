"""Chat templates: our renderer and masks equal transformers' apply_chat_template exactly."""

from __future__ import annotations

import pytest

from ch08_instruction_data.templates import (
    TEMPLATES,
    ensure_special_tokens,
    get_template,
    install_template,
    missing_special_tokens,
    render_text,
    tokenize_chat,
    truncate_turns,
)
from llmpath_core import UserError

PLAIN = [{"role": "user", "content": "Hi"}]
SYSTEM_MULTI = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 plus 2?"},
    {"role": "assistant", "content": "2 + 2 = 4 😀"},
    {"role": "user", "content": "  And 3 plus 3?  "},
    {"role": "assistant", "content": " 6 "},
]
NO_SYSTEM = SYSTEM_MULTI[1:3]
ROLEPLAY = [
    {"role": "system", "content": "You play Elda, an old wizard."},
    {"role": "narrator", "content": "Rain on the tower."},
    {"role": "user", "content": "I knock."},
    {
        "role": "character",
        "name": "Elda",
        "thought": "Who at this hour?",
        "action": "opens the door",
        "content": "Come in, quickly.",
    },
    {"role": "narrator", "content": "Thunder."},
    {"role": "user", "content": "Thank you."},
    {"role": "assistant", "content": "Sit by the fire."},
]


def _conversations(name):
    convs = [PLAIN, SYSTEM_MULTI, NO_SYSTEM]
    return [*convs, ROLEPLAY] if name == "roleplay" else convs


@pytest.fixture(scope="module")
def chat_tokenizer(default_tokenizer):
    """The default tokenizer with every template's special tokens added."""
    import copy

    tok = copy.deepcopy(default_tokenizer)
    for template in TEMPLATES.values():
        ensure_special_tokens(tok, template, add=True)
    return tok


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_render_and_masks_equal_transformers(name, chat_tokenizer, default_tokenizer):
    """Exact equality (no tolerance): text, token ids and assistant masks, with and without a
    generation prompt and a system message, on a tokenizer with and without the chat tokens."""
    template = get_template(name)
    for tok in (chat_tokenizer, default_tokenizer):
        for messages in _conversations(name):
            for agp in (False, True):
                want_text = tok.apply_chat_template(
                    messages,
                    chat_template=template.source,
                    tokenize=False,
                    add_generation_prompt=agp,
                )
                assert render_text(messages, template, add_generation_prompt=agp) == want_text
                want = tok.apply_chat_template(
                    messages,
                    chat_template=template.source,
                    tokenize=True,
                    return_dict=True,
                    return_assistant_tokens_mask=True,
                    add_generation_prompt=agp,
                )
                ours = tokenize_chat(messages, template, tok, add_generation_prompt=agp)
                assert ours["input_ids"] == list(want["input_ids"])
                assert ours["assistant_masks"] == list(want["assistant_masks"])
                if any(m["role"] in ("assistant", "character") for m in messages):
                    assert sum(ours["assistant_masks"]) > 0


def test_official_formats():
    assert render_text(PLAIN, "chatml") == "<|im_start|>user\nHi<|im_end|>\n"
    assert (
        render_text(PLAIN, "chatml", add_generation_prompt=True)
        == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert (
        render_text(PLAIN, "llama3")
        == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    )
    assert render_text(SYSTEM_MULTI[:3], "llama3", add_generation_prompt=True) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 plus 2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n2 + 2 = 4 😀<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert render_text(SYSTEM_MULTI, "llama2") == (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2 plus 2? [/INST] 2 + 2 = 4 😀 </s>"
        "<s>[INST] And 3 plus 3? [/INST] 6 </s>"
    )
    assert render_text(NO_SYSTEM, "alpaca", add_generation_prompt=False).startswith(
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nWhat is 2 plus 2?\n\n### Response:\n"
    )
    text = render_text(ROLEPLAY[:4], "roleplay")
    assert (
        "<|character|>Elda\n<thought>Who at this hour?</thought><action>opens the door</action>"
        in text
    )


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("llama2", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
        ("alpaca", [{"role": "assistant", "content": "a"}]),
        (
            "roleplay",
            [{"role": "character", "content": "a"}, {"role": "assistant", "content": "b"}],
        ),
        ("roleplay", [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]),
    ],
)
def test_roles_that_break_the_template_raise(name, messages):
    with pytest.raises(UserError, match=r"alternate|system"):
        render_text(messages, name)


def test_special_tokens_checked_and_added(default_tokenizer):
    import copy

    tok = copy.deepcopy(default_tokenizer)
    chatml = get_template("chatml")
    assert missing_special_tokens(tok, chatml.special_tokens) == ["<|im_start|>", "<|im_end|>"]
    with pytest.raises(UserError, match="lacks: <\\|im_start\\|>"):
        ensure_special_tokens(tok, chatml)
    size = len(tok)
    assert ensure_special_tokens(tok, chatml, add=True) == ["<|im_start|>", "<|im_end|>"]
    assert len(tok) == size + 2
    assert len(tok.encode("<|im_start|>", add_special_tokens=False)) == 1
    # the default tokenizer's own end of text is enough for Alpaca built on it
    assert ensure_special_tokens(tok, get_template("alpaca", eos_token=tok.eos_token)) == []


def test_installed_template_is_what_apply_chat_template_uses(default_tokenizer, tmp_path):
    import copy

    from transformers import AutoTokenizer

    tok = copy.deepcopy(default_tokenizer)
    install_template(tok, get_template("llama3"), add_special_tokens=True)
    tok.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert reloaded.apply_chat_template(PLAIN, tokenize=False) == render_text(PLAIN, "llama3")
    ids = reloaded.apply_chat_template(PLAIN, tokenize=True, return_dict=True)["input_ids"]
    special = reloaded.convert_tokens_to_ids(["<|begin_of_text|>", "<|eot_id|>"])
    assert ids[0] == special[0] and ids[-1] == special[1]  # one id each, not split into pieces


def test_truncation_keeps_whole_turns(chat_tokenizer):
    long = [{"role": "system", "content": "Be brief."}]
    for i in range(6):
        long += [
            {"role": "user", "content": f"Question number {i} about something long enough?"},
            {"role": "assistant", "content": f"Answer number {i}, also quite long."},
        ]
    template = get_template("llama2")
    kept = truncate_turns(long, template, chat_tokenizer, 80)
    assert kept[0]["role"] == "system" and kept[1]["role"] == "user"
    assert kept[-1] == long[-1]
    assert [m for m in long if m in kept] == kept  # whole messages, in order, from the end
    assert len(tokenize_chat(kept, template, chat_tokenizer)["input_ids"]) <= 80
    # one more pair would not fit
    bigger = [long[0], *long[len(long) - len(kept) - 1 :]]
    assert len(tokenize_chat(bigger, template, chat_tokenizer)["input_ids"]) > 80
    with pytest.raises(UserError, match="not even the last turn"):
        truncate_turns(long, template, chat_tokenizer, 5)
