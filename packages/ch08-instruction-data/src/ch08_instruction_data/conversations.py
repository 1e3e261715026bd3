"""Synthetic multi-turn conversations: personas, topic flows, turn-taking checks, context limits.

Three domain patterns, each a topic flow (the sequence of moves a conversation goes through):

- **support desk**: greeting and problem -> clarifying question -> detail -> fix -> thanks;
- **tutoring**: a question -> a hint -> the student's attempt (sometimes wrong) -> feedback,
  checked by the arithmetic verifier -> a follow-up problem;
- **role-play**: the user acts -> the character answers with a ``thought`` and an ``action`` ->
  the narrator describes -> ..., for the role-play template.

Personas set the voice (a patient or a brisk agent, a curious or a hasty student). Conversation
``i`` is generated from its own seeded generator. :func:`validate_conversation` checks turn-taking
with the template's rule, and :func:`fit_conversation` drops the oldest whole turns until the
rendered conversation fits a token budget.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ch08_instruction_data.templates import get_template, render, truncate_turns, validate_roles
from llmpath_core.errors import UserError

DOMAINS = ("support", "tutoring", "roleplay")

_AGENTS = {
    "patient": (
        "Hello, and thanks for reaching out!",
        "Take your time.",
        "Happy to help any time.",
    ),
    "brisk": ("Hi.", "Quick check:", "Done. Anything else?"),
}
_STUDENTS = {
    "curious": "I wonder how to do this one:",
    "hasty": "Quick, I need the answer:",
}
_PRODUCTS = [
    (
        "router",
        "the internet keeps dropping",
        "Which lights are on?",
        "the orange light blinks",
        "Unplug the router for 30 seconds, then plug it back in and wait for a green light.",
    ),
    (
        "printer",
        "pages come out blank",
        "When did you last change the ink?",
        "never, it is new",
        "Remove the tape from the new cartridge and run the cleaning cycle once.",
    ),
    (
        "phone app",
        "it will not let me log in",
        "Do you see an error message?",
        "it says code 401",
        "Reset your password from the login screen; code 401 means the old one expired.",
    ),
    (
        "laptop",
        "the battery drains in an hour",
        "Is the screen at full brightness?",
        "yes, always",
        "Lower the brightness and turn on battery saver; that usually doubles the time.",
    ),
]
_CHARACTERS = [
    ("Captain Mora", "a pirate captain", "the deck of the Grey Gull"),
    ("Elda", "an old wizard", "a tower full of humming books"),
    ("Pip", "a nervous inn keeper", "a crowded inn on a stormy night"),
]


def _support(rng: random.Random, persona: str) -> list[dict[str, Any]]:
    product, problem, question, detail, fix = rng.choice(_PRODUCTS)
    hello, middle, bye = _AGENTS[persona]
    return [
        {"role": "system", "content": f"You are a {persona} support agent for home electronics."},
        {"role": "user", "content": f"Hi, my {product} has a problem: {problem}."},
        {"role": "assistant", "content": f"{hello} {middle} {question}"},
        {"role": "user", "content": f"Well, {detail}."},
        {"role": "assistant", "content": fix},
        {"role": "user", "content": "That worked, thank you!"},
        {"role": "assistant", "content": bye},
    ]


def _tutoring(rng: random.Random, persona: str) -> list[dict[str, Any]]:
    a, b = rng.randint(11, 49), rng.randint(11, 49)
    attempt = a + b + (0 if rng.random() < 0.5 else rng.choice([-10, 10, 1]))
    right = attempt == a + b
    c, d = rng.randint(11, 49), rng.randint(11, 49)
    feedback = (
        f"Yes, {a} + {b} = {a + b}. Well done!"
        if right
        else f"Not quite: {a} + {b} = {a + b}. Check the tens again."
    )
    return [
        {"role": "system", "content": "You are a friendly maths tutor. Give hints before answers."},
        {"role": "user", "content": f"{_STUDENTS[persona]} what is {a} plus {b}?"},
        {
            "role": "assistant",
            "content": f"Add the tens first: {a // 10 * 10} + {b // 10 * 10} = "
            f"{a // 10 * 10 + b // 10 * 10}. Then add the ones. What do you get?",
        },
        {"role": "user", "content": f"Is it {attempt}?"},
        {"role": "assistant", "content": feedback},
        {"role": "user", "content": "Can I have another one?"},
        {"role": "assistant", "content": f"Sure: what is {c} plus {d}?"},
    ]


def _roleplay(rng: random.Random, persona: str) -> list[dict[str, Any]]:
    name, who, place = rng.choice(_CHARACTERS)
    return [
        {"role": "system", "content": f"You play {name}, {who}. Stay in character."},
        {"role": "narrator", "content": f"The scene: {place}."},
        {"role": "user", "content": f"I walk up to {name} and ask for directions."},
        {
            "role": "character",
            "name": name,
            "thought": "A stranger. Friend or trouble?",
            "action": "looks the traveller up and down",
            "content": "Directions cost a story, traveller. Tell me where you came from.",
        },
        {"role": "narrator", "content": "A gust of wind rattles the shutters."},
        {"role": "user", "content": "I came from the mountains, over the old bridge."},
        {
            "role": "character",
            "name": name,
            "action": "nods slowly",
            "content": "Then you are braver than most. Follow the river east.",
        },
    ]


_FLOWS = {"support": _support, "tutoring": _tutoring, "roleplay": _roleplay}
_PERSONAS = {"support": list(_AGENTS), "tutoring": list(_STUDENTS), "roleplay": ["in-character"]}
DEFAULT_TEMPLATE = {"support": "chatml", "tutoring": "llama3", "roleplay": "roleplay"}


def generate_conversations(domain: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` conversations of ``domain`` (``support``, ``tutoring`` or ``roleplay``)."""
    if domain not in _FLOWS:
        raise UserError(f"unknown domain {domain!r}: choose one of {', '.join(DOMAINS)}")
    out = []
    for i in range(n):
        rng = random.Random(f"{seed}:{domain}:{i}")
        persona = rng.choice(_PERSONAS[domain])
        out.append(
            {
                "id": f"{domain}-{seed}-{i:04d}",
                "domain": domain,
                "persona": persona,
                "messages": _FLOWS[domain](rng, persona),
                "provenance": {"generator": f"conversations:{domain}", "seed": seed, "index": i},
            }
        )
    return out


def validate_conversation(messages: Sequence[dict[str, Any]], template_name: str) -> None:
    """Check turn-taking with the template's rule (raises :class:`UserError`)."""
    template = get_template(template_name)
    if template_name != "roleplay":
        bad = [m["role"] for m in messages if m.get("role") not in ("system", "user", "assistant")]
        if bad:
            raise UserError(f"template {template_name} has no role {bad[0]!r}")
    validate_roles(messages, template)
    render(messages, template)  # the template's own checks (raise_exception) too


def fit_conversation(
    messages: Sequence[dict[str, Any]], template_name: str, tokenizer, max_tokens: int
) -> list[dict[str, Any]]:
    """The conversation with its oldest whole turns dropped to fit ``max_tokens``."""
    return truncate_turns(messages, get_template(template_name), tokenizer, max_tokens)


__all__ = [
    "DEFAULT_TEMPLATE",
    "DOMAINS",
    "fit_conversation",
    "generate_conversations",
    "validate_conversation",
]
