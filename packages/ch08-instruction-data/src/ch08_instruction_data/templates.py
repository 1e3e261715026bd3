"""Chat templates: ChatML, Llama-2, Llama-3, Alpaca and a role-play format, as Jinja sources.

A chat template turns a list of ``{"role", "content"}`` messages into the one string a causal LM
is trained on. The five sources below follow the official formats:

- **ChatML** (OpenAI, used by Qwen and OpenHermes): ``<|im_start|>user\\nHi<|im_end|>\\n``;
- **Llama-2 chat** (Meta's ``tokenizer_config.json``): ``<s>[INST] <<SYS>>\\n...\\n<</SYS>>\\n\\nHi
  [/INST] answer </s>``, roles must alternate user/assistant;
- **Llama-3 instruct**:
  ``<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\nHi<|eot_id|>``;
- **Alpaca** (Taori et al., 2023): the preamble, ``### Instruction:`` and ``### Response:``;
- **role-play** (ours): ``<|system|>``, ``<|user|>``, ``<|character|>`` (with a name) and
  ``<|narrator|>`` turns closed by ``<|end|>``, and ``<thought>``/``<action>`` segments inside a
  character's turn.

Each assistant (or character) turn sits inside a ``{% generation %}`` block, so Hugging Face's
``apply_chat_template(..., return_assistant_tokens_mask=True)`` and trl's ``assistant_only_loss``
know which tokens the model must learn to produce. Meta's templates write the begin/end tokens
through ``bos_token``/``eos_token``; ours write them as literals (``<s>``, ``<|begin_of_text|>``),
so a source renders the official string whatever tokenizer it is applied with.

:func:`render` is our own renderer: a sandboxed Jinja environment set up as transformers sets up
its own (``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, ``raise_exception``, a ``tojson``
that does not escape HTML, a ``{% generation %}`` tag that records character spans), and
:func:`assistant_mask` turns the spans into a per-token mask as transformers does. The tests hold
both to ``apply_chat_template`` byte for byte and mask for mask.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from llmpath_core.errors import UserError

Message = Mapping[str, Any]

_CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{{ '<s>' + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ ' ' }}{% generation %}{{ content.strip() + ' </s>' }}{% endgeneration %}"
    "{% endif %}"
    "{% endfor %}"
)

_LLAMA3 = (
    "{% for message in messages %}"
    "{% if loop.index0 == 0 %}{{ '<|begin_of_text|>' }}{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)

ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)


def alpaca_source(eos_token: str = "</s>") -> str:
    """The Alpaca template; each response ends with ``eos_token`` (the model's end of text)."""
    eos = json.dumps(eos_token)
    return (
        "{% if messages[0]['role'] == 'system' %}"
        "{% set loop_messages = messages[1:] %}{% set preamble = messages[0]['content'] %}"
        "{% else %}{% set loop_messages = messages %}"
        f"{{% set preamble = {json.dumps(ALPACA_PREAMBLE)} %}}{{% endif %}}"
        "{{ preamble + '\\n\\n' }}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate "
        "user/assistant/user/assistant/...') }}"
        "{% endif %}"
        "{% if message['role'] == 'user' %}"
        "{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}"
        "{% else %}"
        "{{ '### Response:\\n' }}"
        f"{{% generation %}}{{{{ message['content'] + {eos} }}}}{{% endgeneration %}}"
        "{{ '\\n\\n' }}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}"
    )


_ROLEPLAY = (
    "{% set ns = namespace(last='') %}"
    "{% for message in messages %}"
    "{% set role = 'character' if message['role'] == 'assistant' else message['role'] %}"
    "{% if role not in ['system', 'user', 'character', 'narrator'] %}"
    "{{ raise_exception('Unknown role ' + role + ': use system, user, character or narrator') }}"
    "{% endif %}"
    "{% if role == 'system' and not loop.first %}"
    "{{ raise_exception('Only the first message may be a system message') }}"
    "{% endif %}"
    "{% if role in ['user', 'character'] %}"
    "{% if role == ns.last %}"
    "{{ raise_exception('Conversation roles must alternate "
    "user/character (narrator may interject)') }}"
    "{% endif %}"
    "{% set ns.last = role %}"
    "{% endif %}"
    "{% if role == 'character' %}"
    "{{ '<|character|>' + (message['name'] if message['name'] is defined else '') + '\\n' }}"
    "{% generation %}"
    "{% if message['thought'] is defined %}{{ '<thought>' + message['thought'] + '</thought>' }}"
    "{% endif %}"
    "{% if message['action'] is defined %}{{ '<action>' + message['action'] + '</action>' }}"
    "{% endif %}"
    "{{ message['content'] + '<|end|>' }}"
    "{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|' + role + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|character|>' + (character if character is defined else '') + '\\n' }}"
    "{% endif %}"
)


@dataclass(frozen=True)
class ChatTemplate:
    """A named chat template: its Jinja source and the special tokens it writes."""

    name: str
    source: str
    special_tokens: tuple[str, ...]
    alternating: bool  # user/assistant turns must alternate
    description: str


TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate(
        "chatml",
        _CHATML,
        ("<|im_start|>", "<|im_end|>"),
        False,
        "OpenAI ChatML (Qwen, OpenHermes)",
    ),
    "llama2": ChatTemplate(
        "llama2", _LLAMA2, ("<s>", "</s>"), True, "Llama-2 chat ([INST], <<SYS>>)"
    ),
    "llama3": ChatTemplate(
        "llama3",
        _LLAMA3,
        ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
        False,
        "Llama-3 instruct (header ids, eot)",
    ),
    "alpaca": ChatTemplate(
        "alpaca", alpaca_source(), ("</s>",), True, "Alpaca (### Instruction / ### Response)"
    ),
    "roleplay": ChatTemplate(
        "roleplay",
        _ROLEPLAY,
        (
            "<|system|>",
            "<|user|>",
            "<|character|>",
            "<|narrator|>",
            "<|end|>",
            "<thought>",
            "</thought>",
            "<action>",
            "</action>",
        ),
        False,
        "role-play: user, character, narrator; <thought> and <action> segments",
    ),
}


def get_template(name: str, *, eos_token: str | None = None) -> ChatTemplate:
    """The template called ``name``; for ``alpaca``, ``eos_token`` replaces ``</s>``."""
    if name not in TEMPLATES:
        raise UserError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}")
    template = TEMPLATES[name]
    if name == "alpaca" and eos_token is not None:
        template = ChatTemplate(
            "alpaca", alpaca_source(eos_token), (eos_token,), True, template.description
        )
    return template


# ---------------------------------------------------------------------------------------------
# The renderer
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _compile(source: str):
    import jinja2
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationSpans(Extension):
        """``{% generation %}...{% endgeneration %}``: record the character span of the body."""

        tags = frozenset({"generation"})

        def __init__(self, environment):
            super().__init__(environment)
            self.rendered: list[str] | None = None
            self.spans: list[tuple[int, int]] | None = None

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            call = self.call_method("_span", [])
            return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _span(self, caller) -> str:
            text = caller()
            if self.rendered is not None and self.spans is not None:
                # everything rendered so far was yielded to the collector in order
                start = sum(len(block) for block in self.rendered)
                self.spans.append((start, start + len(text)))
            return text

    def raise_exception(message: str):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[GenerationSpans, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    tracker = next(e for e in env.extensions.values() if isinstance(e, GenerationSpans))
    return env.from_string(source), tracker


@contextmanager
def _tracking(tracker, rendered: list[str], spans: list[tuple[int, int]]) -> Iterator[None]:
    tracker.rendered, tracker.spans = rendered, spans
    try:
        yield
    finally:
        tracker.rendered, tracker.spans = None, None


@dataclass
class Rendered:
    """A rendered conversation and the character spans of its ``{% generation %}`` blocks."""

    text: str
    spans: list[tuple[int, int]]


def _as_source(template: str | ChatTemplate) -> str:
    if isinstance(template, ChatTemplate):
        return template.source
    if template in TEMPLATES:
        return TEMPLATES[template].source
    return template


def render(
    messages: Sequence[Message],
    template: str | ChatTemplate,
    *,
    add_generation_prompt: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Rendered:
    """Render ``messages`` with ``template`` (a name, a :class:`ChatTemplate` or Jinja source).

    ``special_tokens`` are the tokenizer's ``special_tokens_map`` (``bos_token``, ...), which
    transformers passes to every template; ``kwargs`` are extra template variables. Messages'
    keys whose value is ``None`` are dropped first, as transformers does. A template that calls
    ``raise_exception`` (roles that do not alternate, ...) raises :class:`UserError`.
    """
    import jinja2

    if not messages:
        raise UserError("the conversation is empty: give at least one message")
    chat = [{k: v for k, v in dict(m).items() if v is not None} for m in messages]
    compiled, tracker = _compile(_as_source(template))
    rendered: list[str] = []
    spans: list[tuple[int, int]] = []
    variables = {**(special_tokens or {}), **kwargs}
    try:
        with _tracking(tracker, rendered, spans):
            for block in compiled.generate(
                messages=chat,
                tools=None,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **variables,
            ):
                rendered.append(block)
    except jinja2.exceptions.TemplateError as exc:
        raise UserError(f"the template rejects this conversation: {exc}") from None
    return Rendered("".join(rendered), spans)


def render_text(
    messages: Sequence[Message],
    template: str | ChatTemplate,
    *,
    add_generation_prompt: bool = False,
    **kwargs: Any,
) -> str:
    """The rendered string only (``apply_chat_template(..., tokenize=False)``)."""
    return render(messages, template, add_generation_prompt=add_generation_prompt, **kwargs).text


def assistant_mask(
    input_ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int]],
) -> list[int]:
    """1 for the tokens inside a generation span, 0 elsewhere (transformers' rule).

    A span ``[start, end)`` covers the token that holds character ``start`` through the token
    that holds character ``end - 1``; a span whose start has no token (cut by truncation) ends
    the marking. ``offsets`` are the tokenizer's character offsets of ``input_ids``.
    """
    char_to_token: dict[int, int] = {}
    for index, (start, end) in enumerate(offsets):
        for char in range(start, end):
            char_to_token.setdefault(char, index)
    mask = [0] * len(input_ids)
    for start, end in spans:
        first = char_to_token.get(start)
        last = char_to_token.get(end - 1)
        if first is None:
            break
        # transformers marks to the end of the sequence when the last token is None *or 0*
        stop = last + 1 if last else len(input_ids)
        for index in range(first, stop):
            mask[index] = 1
    return mask


def tokenize_chat(
    messages: Sequence[Message],
    template: str | ChatTemplate,
    tokenizer,
    *,
    add_generation_prompt: bool = False,
    max_length: int | None = None,
) -> dict[str, list[int]]:
    """``input_ids``, ``attention_mask`` and ``assistant_masks`` of a conversation.

    The same result as ``tokenizer.apply_chat_template(messages, chat_template=source,
    return_dict=True, return_assistant_tokens_mask=True)``, with our renderer and mask.
    """
    special = {k: v for k, v in tokenizer.special_tokens_map.items() if v is not None}
    result = render(messages, template, add_generation_prompt=add_generation_prompt, **special)
    encoded = tokenizer(
        result.text,
        add_special_tokens=False,
        return_offsets_mapping=True,
        truncation=max_length is not None,
        max_length=max_length,
    )
    ids = list(encoded["input_ids"])
    return {
        "input_ids": ids,
        "attention_mask": list(encoded["attention_mask"]),
        "assistant_masks": assistant_mask(ids, encoded["offset_mapping"], result.spans),
    }


# ---------------------------------------------------------------------------------------------
# Roles, special tokens, truncation, installation
# ---------------------------------------------------------------------------------------------


def validate_roles(messages: Sequence[Message], template: ChatTemplate) -> None:
    """Raise :class:`UserError` if a message is malformed or roles break the template's rule."""
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise UserError(f"message {i} needs a string 'role'")
        if not isinstance(message.get("content"), str):
            raise UserError(f"message {i} ({message['role']}) needs a string 'content'")
        if message["role"] == "system" and i > 0:
            raise UserError(f"message {i}: only the first message may be a system message")
    if template.alternating:
        turns = [m["role"] for m in messages if m["role"] != "system"]
        for i, role in enumerate(turns):
            expected = "user" if i % 2 == 0 else "assistant"
            if role != expected:
                raise UserError(
                    f"template {template.name} needs turns to alternate user/assistant: "
                    f"turn {i} is {role!r}, expected {expected!r}"
                )


def missing_special_tokens(tokenizer, tokens: Sequence[str]) -> list[str]:
    """The ``tokens`` that ``tokenizer`` would not encode as one token id of their own."""
    missing = []
    for token in tokens:
        ids = tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1 or tokenizer.convert_ids_to_tokens(ids[0]) != token:
            missing.append(token)
    return missing


def ensure_special_tokens(tokenizer, template: ChatTemplate, *, add: bool = False) -> list[str]:
    """Check that ``tokenizer`` has every special token ``template`` writes; add them if ``add``.

    Returns the tokens added (a model trained with this tokenizer then needs
    ``model.resize_token_embeddings(len(tokenizer))``). Without ``add``, a missing token raises
    :class:`UserError`: a template token split into pieces is a silent training bug.
    """
    missing = missing_special_tokens(tokenizer, template.special_tokens)
    if missing and not add:
        raise UserError(
            f"template {template.name} writes special tokens the tokenizer lacks: "
            f"{', '.join(missing)} (pass --add-special-tokens to add them)"
        )
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    return missing


def truncate_turns(
    messages: Sequence[Message],
    template: ChatTemplate,
    tokenizer,
    max_tokens: int,
) -> list[dict[str, Any]]:
    """Drop the oldest whole turns until the rendered conversation fits in ``max_tokens``.

    The system message stays; turns go in user/assistant pairs from the front, so the kept
    conversation still starts with a user turn and no turn is cut in the middle.
    """
    chat = [dict(m) for m in messages]
    system = chat[:1] if chat and chat[0]["role"] == "system" else []
    turns = chat[len(system) :]

    def size(candidate: list[dict[str, Any]]) -> int:
        return len(tokenize_chat(candidate, template, tokenizer)["input_ids"])

    while turns and size(system + turns) > max_tokens:
        drop = 2 if len(turns) > 2 and turns[0]["role"] == "user" else 1
        turns = turns[drop:]
        while turns and turns[0]["role"] not in ("user",) and template.alternating:
            turns = turns[1:]
    if not turns:
        raise UserError(
            f"not even the last turn fits in {max_tokens} tokens with template {template.name}"
        )
    return system + turns


def install_template(tokenizer, template: ChatTemplate, *, add_special_tokens: bool = False):
    """Set ``tokenizer.chat_template`` (checking its special tokens); returns the tokens added.

    ``tokenizer.save_pretrained(folder)`` then writes the template into the folder, where
    ``apply_chat_template`` and trl's ``SFTTrainer`` pick it up.
    """
    added = ensure_special_tokens(tokenizer, template, add=add_special_tokens)
    tokenizer.chat_template = template.source
    return added


__all__ = [
    "ALPACA_PREAMBLE",
    "TEMPLATES",
    "ChatTemplate",
    "Rendered",
    "alpaca_source",
    "assistant_mask",
    "ensure_special_tokens",
    "get_template",
    "install_template",
    "missing_special_tokens",
    "render",
    "render_text",
    "tokenize_chat",
    "truncate_turns",
    "validate_roles",
]
