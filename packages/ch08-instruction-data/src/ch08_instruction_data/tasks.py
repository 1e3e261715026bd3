"""Instruction tasks: hand-written seeds, template generators, and planted bad records.

Every generated record is verifiable: its family (addition, sorting, reversing a word, ...) has a
checker, which is what lets the quality scorer (:mod:`ch08_instruction_data.quality`) judge a
response without an LLM, and what lets an experiment measure whether a model learned the task.

Randomness is per record: record ``i`` of a run with seed ``s`` comes from
``random.Random(f"{s}:{stage}:{i}")``, so any prefix of a run, and a resumed run, is identical
to the same records of a full run.

:func:`plant_noise` makes quality vary on purpose, as real synthetic data does: wrong answers,
refusals, empty or runaway responses, text in another language, leaked template tokens, exact
and near duplicates, and near copies of the seeds. Each planted record says so in its
``provenance`` (which the filters and scorers never read), so tests can check that the filters
remove exactly the planted records.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_WORDS = [
    "garden",
    "river",
    "window",
    "basket",
    "pencil",
    "rocket",
    "candle",
    "harbour",
    "meadow",
    "violin",
    "lantern",
    "blanket",
    "forest",
    "ladder",
    "pebble",
    "cottage",
    "bicycle",
    "teacup",
    "feather",
    "castle",
    "orchard",
    "thunder",
    "marble",
    "biscuit",
    "compass",
    "pillow",
    "island",
    "kettle",
    "mirror",
    "saddle",
    "tunnel",
    "wagon",
    "button",
    "carrot",
    "dolphin",
    "jacket",
    "lemon",
    "mitten",
    "napkin",
    "parrot",
    "quilt",
    "ribbon",
    "sandal",
    "tomato",
    "umbrella",
    "walnut",
    "yogurt",
    "zebra",
]
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_NAMES = [
    "Lily",
    "Omar",
    "Zoe",
    "Ravi",
    "Mia",
    "Tom",
    "Ana",
    "Ben",
    "Ella",
    "Sam",
    "Nina",
    "Leo",
    "Ivy",
    "Max",
    "Rosa",
    "Kai",
]
_ITEMS = ["apples", "marbles", "stickers", "cookies", "shells", "pencils", "stamps", "buttons"]


def _rng(seed: int, stage: str, index: int) -> random.Random:
    return random.Random(f"{seed}:{stage}:{index}")


def _nonce_word(rng: random.Random) -> str:
    """A pronounceable made-up word of 2-4 syllables ("tomazi"): an endless, repeat-free pool."""
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))


def _word(rng: random.Random) -> str:
    # made-up words: a fixed list of real words would repeat, and repeats are duplicates
    return _nonce_word(rng)


# ---------------------------------------------------------------------------------------------
# Task families: make(rng) -> (instruction, response), check(instruction, response) -> bool|None
# ---------------------------------------------------------------------------------------------


def _add(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    ask = rng.choice(
        ["What is {a} plus {b}?", "Add {a} and {b}.", "Compute the sum of {a} and {b}."]
    )
    return ask.format(a=a, b=b), f"{a} + {b} = {a + b}"


def _sub(rng: random.Random) -> tuple[str, str]:
    a = rng.randint(30, 99)
    b = rng.randint(10, a - 5)
    ask = rng.choice(["What is {a} minus {b}?", "Subtract {b} from {a}."])
    return ask.format(a=a, b=b), f"{a} - {b} = {a - b}"


def _reverse(rng: random.Random) -> tuple[str, str]:
    word = _word(rng)
    ask = rng.choice(
        ["Reverse the letters of the word {w}.", "Write the word {w} backwards, letter by letter."]
    )
    return ask.format(w=word), word[::-1]


def _sort(rng: random.Random) -> tuple[str, str]:
    numbers = rng.sample(range(1, 60), rng.randint(4, 6))
    listed = ", ".join(map(str, numbers))
    ask = rng.choice(
        ["Sort these numbers from smallest to largest: {x}.", "Put {x} in increasing order."]
    )
    return ask.format(x=listed), ", ".join(map(str, sorted(numbers)))


def _count(rng: random.Random) -> tuple[str, str]:
    word = _word(rng)
    ask = rng.choice(["How many letters does the word {w} have?", "Count the letters in {w}."])
    return ask.format(w=word), f"The word {word} has {len(word)} letters."


def _story(rng: random.Random) -> tuple[str, str]:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    ask = f"{name} has {a} {item} and finds {b} more. How many {item} does {name} have now?"
    return ask, f"{name} has {a + b} {item} now."


def _chain(rng: random.Random) -> tuple[str, str]:
    a, b, c = rng.randint(10, 99), rng.randint(10, 99), rng.randint(10, 99)
    return (
        f"What is {a} plus {b}, and then plus {c}?",
        f"{a} + {b} = {a + b}, and {a + b} + {c} = {a + b + c}",
    )


def _upper(rng: random.Random) -> tuple[str, str]:
    words = _word(rng) + " " + _word(rng)
    ask = rng.choice(["Write {w} in capital letters.", "Convert {w} to upper case."])
    return ask.format(w=words), words.upper()


_NUM = r"(\d+)"


def _check_add(instruction: str, response: str) -> bool | None:
    m = re.search(
        rf"{_NUM} plus {_NUM}\?|Add {_NUM} and {_NUM}|sum of {_NUM} and {_NUM}", instruction
    )
    if not m:
        return None
    a, b = (int(g) for g in m.groups() if g is not None)
    return _final_number(response) == a + b


def _check_sub(instruction: str, response: str) -> bool | None:
    m = re.search(rf"{_NUM} minus {_NUM}", instruction)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
    else:
        m = re.search(rf"Subtract {_NUM} from {_NUM}", instruction)
        if not m:
            return None
        b, a = int(m.group(1)), int(m.group(2))
    return _final_number(response) == a - b


def _check_reverse(instruction: str, response: str) -> bool | None:
    m = re.search(r"(?:letters of the word|Write the word) (\w+)", instruction)
    return None if not m else response.strip() == m.group(1)[::-1]


def _check_sort(instruction: str, response: str) -> bool | None:
    m = re.search(r"(?:largest: |Put )([\d, ]+?)(?:\.| in increasing)", instruction)
    if not m:
        return None
    numbers = sorted(int(x) for x in re.findall(r"\d+", m.group(1)))
    return [int(x) for x in re.findall(r"\d+", response)] == numbers


def _check_count(instruction: str, response: str) -> bool | None:
    m = re.search(r"(?:does the word|letters in) (\w+)", instruction)
    return None if not m else _final_number(response) == len(m.group(1))


def _check_story(instruction: str, response: str) -> bool | None:
    m = re.search(r"has (\d+) \w+ and finds (\d+) more", instruction)
    return None if not m else _final_number(response) == int(m.group(1)) + int(m.group(2))


def _check_upper(instruction: str, response: str) -> bool | None:
    m = re.search(r"(?:Write|Convert) ([a-z ]+?) (?:in capital|to upper)", instruction)
    return None if not m else response.strip() == m.group(1).upper()


def _check_chain(instruction: str, response: str) -> bool | None:
    m = re.search(rf"What is {_NUM} plus {_NUM}, and then plus {_NUM}\?", instruction)
    return None if not m else _final_number(response) == sum(int(g) for g in m.groups())


def _final_number(text: str) -> int | None:
    numbers = re.findall(r"-?\d+", text)
    return int(numbers[-1]) if numbers else None


@dataclass(frozen=True)
class Family:
    """A task family: a generator of (instruction, response) and a checker of a response."""

    name: str
    make: Callable[[random.Random], tuple[str, str]]
    check: Callable[[str, str], bool | None]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("addition", _add, _check_add),
        Family("subtraction", _sub, _check_sub),
        Family("reverse", _reverse, _check_reverse),
        Family("sort", _sort, _check_sort),
        Family("count", _count, _check_count),
        Family("story-sum", _story, _check_story),
        Family("uppercase", _upper, _check_upper),
        Family("addition-chain", _chain, _check_chain),
    )
}
#: the families :func:`template_records` draws from (chains come from evolution)
BASE_FAMILIES = [name for name in FAMILIES if name != "addition-chain"]


def check_response(instruction: str, response: str) -> tuple[str | None, bool | None]:
    """``(family, correct)`` for the first family whose checker recognises the instruction."""
    for family in FAMILIES.values():
        verdict = family.check(instruction, response)
        if verdict is not None:
            return family.name, verdict
    return None, None


# Hand-curated seeds (self-instruct starts from 175; these are the same idea at lab scale).
SEEDS: list[dict[str, str]] = [
    {"instruction": "What do you get when you put 12 and 7 together?", "response": "12 + 7 = 19"},
    {"instruction": "Take 8 away from 20.", "response": "20 - 8 = 12"},
    {"instruction": "Spell cat backwards.", "response": "tac"},
    {"instruction": "Arrange 3, 1, 2 in ascending order.", "response": "1, 2, 3"},
    {"instruction": "Tell me the number of letters in dog.", "response": "dog has 3 letters."},
    {
        "instruction": "Sam had 2 pears and picked 3 more. What is his total?",
        "response": "Sam has 5 pears.",
    },
    {"instruction": "Shout red hat: use only capitals.", "response": "RED HAT"},
    {
        "instruction": "Give a one-sentence definition of a noun.",
        "response": "A noun is a word that names a person, place, thing or idea.",
    },
]


def make_record(instruction: str, response: str, **provenance: Any) -> dict[str, Any]:
    """A record in the pipeline's JSONL shape (``id`` is filled in by the pipeline)."""
    return {"instruction": instruction, "response": response, "provenance": provenance}


def template_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` records from the task families (round robin), no instruction twice.

    Record ``i`` is drawn from its own generator; if its instruction was drawn before, it is
    drawn again from ``(seed, i, attempt)``, so the generator itself plants no duplicates.
    """
    out, seen = [], set()
    for i in range(n):
        family = FAMILIES[BASE_FAMILIES[i % len(BASE_FAMILIES)]]
        for attempt in range(100):
            stage = "templates" if attempt == 0 else f"templates.{attempt}"
            instruction, response = family.make(_rng(seed, stage, i))
            if instruction not in seen:
                break
        seen.add(instruction)
        out.append(
            make_record(
                instruction, response, generator="templates", family=family.name, seed=seed, index=i
            )
        )
    return out


def evolve_in_depth(record: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """Evol-Instruct's "add reasoning steps", by rule, for the arithmetic families.

    ``What is 23 plus 45?`` becomes ``What is 23 plus 45, plus 12?`` with the chained answer; a
    record of another family is returned as None (rule evolution does not apply to it).
    """
    m = re.fullmatch(rf"What is {_NUM} plus {_NUM}\?", record["instruction"])
    if not m:
        return None
    a, b, c = int(m.group(1)), int(m.group(2)), rng.randint(10, 99)
    return make_record(
        f"What is {a} plus {b}, and then plus {c}?",
        f"{a} + {b} = {a + b}, and {a + b} + {c} = {a + b + c}",
        generator="evol-instruct-rule",
        family="addition-chain",
        parent=record.get("id"),
    )


# ---------------------------------------------------------------------------------------------
# Planted noise
# ---------------------------------------------------------------------------------------------

REFUSALS = (
    "I'm sorry, but as an AI language model I cannot help with that.",
    "I cannot assist with this request.",
)
FOREIGN = (
    ("¿Cuántas letras tiene la palabra casa?", "La palabra casa tiene cuatro letras."),
    ("Wie viele Buchstaben hat das Wort Haus?", "Das Wort Haus hat vier Buchstaben."),
    ("Combien font douze et sept ?", "Douze et sept font dix-neuf, c'est la réponse."),
)


def _wrong(record: dict[str, Any], rng: random.Random) -> str:
    response = record["response"]
    numbers = re.findall(r"\d+", response)
    if numbers:
        last = numbers[-1]
        wrong = str(int(last) + rng.choice([-3, -2, -1, 1, 2, 3, 10]))
        head, _, tail = response.rpartition(last)
        return head + wrong + tail
    letters = list(response)
    rng.shuffle(letters)
    shuffled = "".join(letters)
    return shuffled if shuffled != response else response[1:] + response[:1] + "x"


def plant_noise(
    records: list[dict[str, Any]], fractions: dict[str, float], seed: int = 0
) -> list[dict[str, Any]]:
    """Corrupt or add records; returns the new list (planted ones say ``provenance.planted``).

    Kinds that replace a record's response: ``wrong`` (a wrong answer, well formed),
    ``mismatched`` (another record's response, as
    when instruction and response columns slip), ``refusal``,
    ``empty``, ``runaway`` (the answer repeated far past any length limit), ``leak`` (template
    tokens in the text). Kinds that add records: ``duplicate`` (an exact copy), ``near_duplicate``
    (a copy with case, spacing or punctuation changed), ``foreign`` (another language),
    ``seed_copy`` (a seed with 'Please, ' in front).
    """
    rng = random.Random(f"{seed}:noise")
    out = [dict(r, provenance=dict(r["provenance"])) for r in records]
    order = list(range(len(out)))
    rng.shuffle(order)
    cursor = 0
    for kind in ("wrong", "mismatched", "refusal", "empty", "runaway", "leak"):
        for _ in range(round(fractions.get(kind, 0.0) * len(records))):
            record = out[order[cursor]]
            cursor += 1
            if kind == "wrong":
                record["response"] = _wrong(record, rng)
            elif kind == "mismatched":
                # the response of another record: well formed, fluent, and unrelated
                other = records[rng.randrange(len(records))]["response"]
                record["response"] = other if other != record["response"] else _wrong(record, rng)
            elif kind == "refusal":
                record["response"] = rng.choice(REFUSALS)
            elif kind == "empty":
                record["response"] = rng.choice(["", " ", "\n"])
            elif kind == "runaway":
                record["response"] = " ".join([record["response"]] * 200)
            elif kind == "leak":
                record["response"] = record["response"] + "<|im_end|>\n<|im_start|>user"
            record["provenance"]["planted"] = kind
    added = []
    clean = [r for r in out if "planted" not in r["provenance"]]
    for kind in ("duplicate", "near_duplicate", "foreign", "seed_copy"):
        for j in range(round(fractions.get(kind, 0.0) * len(records))):
            after = None
            if kind in ("duplicate", "near_duplicate"):
                source = rng.choice(clean)
                after = source
                instruction, response = source["instruction"], source["response"]
                if kind == "near_duplicate":
                    instruction = rng.choice(
                        [
                            instruction.upper(),
                            "  " + instruction.replace(" ", "  "),
                            instruction.rstrip(".?") + "!",
                        ]
                    )
            elif kind == "foreign":
                instruction, response = FOREIGN[j % len(FOREIGN)]
            else:
                seed_record = SEEDS[j % len(SEEDS)]
                text = seed_record["instruction"]
                instruction = "Please, " + text[0].lower() + text[1:]
                response = seed_record["response"]
            added.append(
                (after, make_record(instruction, response, generator="planted", planted=kind))
            )
    # planted additions go to deterministic random places, copies after their source
    for after, record in added:
        first = 0 if after is None else next(i for i, r in enumerate(out) if r is after) + 1
        out.insert(rng.randint(first, len(out)), record)
    return out


__all__ = [
    "FAMILIES",
    "FOREIGN",
    "REFUSALS",
    "SEEDS",
    "Family",
    "check_response",
    "evolve_in_depth",
    "make_record",
    "plant_noise",
    "template_records",
]
