"""Synthetic conversations: deterministic, valid turn-taking, fit to a budget by whole turns."""

from __future__ import annotations

import copy

import pytest

from ch08_instruction_data.conversations import (
    DEFAULT_TEMPLATE,
    DOMAINS,
    fit_conversation,
    generate_conversations,
    validate_conversation,
)
from ch08_instruction_data.tasks import check_response
from ch08_instruction_data.templates import ensure_special_tokens, get_template, tokenize_chat
from llmpath_core import UserError


def test_domains_are_valid_deterministic_and_fit(default_tokenizer):
    tok = copy.deepcopy(default_tokenizer)
    for domain in DOMAINS:
        made = generate_conversations(domain, 4, seed=3)
        assert made == generate_conversations(domain, 4, seed=3)
        name = DEFAULT_TEMPLATE[domain]
        template = get_template(name)
        ensure_special_tokens(tok, template, add=True)
        for conv in made:
            validate_conversation(conv["messages"], name)
            full = len(tokenize_chat(conv["messages"], template, tok)["input_ids"])
            fitted = fit_conversation(conv["messages"], name, tok, full - 1)
            assert len(tokenize_chat(fitted, template, tok)["input_ids"]) <= full - 1
            assert fitted[0] == conv["messages"][0]  # the system message stays
            assert fitted[-1] == conv["messages"][-1]


def test_tutor_feedback_is_right_about_the_attempt():
    for conv in generate_conversations("tutoring", 20, seed=0):
        question, attempt, feedback = (conv["messages"][i]["content"] for i in (1, 3, 4))
        correct = check_response(question.split(": ", 1)[-1].replace("what", "What"), attempt)[1]
        assert correct is feedback.startswith("Yes")


def test_bad_turn_taking_is_rejected():
    conv = generate_conversations("support", 1)[0]["messages"]
    swapped = [conv[0], conv[2], conv[1], *conv[3:]]
    with pytest.raises(UserError, match="alternate"):
        validate_conversation(swapped, "llama2")
    with pytest.raises(UserError, match="no role 'narrator'"):
        validate_conversation(generate_conversations("roleplay", 1)[0]["messages"], "chatml")
