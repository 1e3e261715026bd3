"""The bundled task samples, generated here from templates with a fixed seed.

Small stand-ins in the real formats of MMLU, HellaSwag, GSM8K and HumanEval, written in the
vocabulary of llmpath's bundled stories so the default model has a fair chance at some items.
``python -m ch11_evaluation.samples`` rewrites ``data/*.jsonl``; a test checks the committed files
equal this generator's output. For real use, export the real datasets to JSONL with the same
fields (``datasets.load_dataset("cais/mmlu", "all")["test"].to_json(...)``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Nora", "Max", "Lily", "Tom", "Mia", "Ben", "Anna", "Sam", "Lucy", "Jack"]
COLOURS = ["pink", "blue", "green", "red", "yellow", "purple", "orange"]
ANIMALS = ["lamb", "raccoon", "duck", "puppy", "kitten", "rabbit", "fox", "owl"]
PLACES = ["park", "hospital", "bakery", "library", "beach", "wood", "market", "school"]
WEATHER = ["rainy", "sunny", "windy", "snowy", "foggy"]
FOODS = ["apples", "cookies", "bread", "cake", "soup", "pears"]


def mmlu_items(n: int = 40, seed: int = 0) -> list[dict]:
    """MMLU-format items (``subject, question, choices, answer``) about short story facts."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        name = rng.choice(NAMES)
        kind = i % 4
        if kind == 0:
            gold = rng.choice(COLOURS)
            ctx = f"{name}'s favourite colour was {gold}."
            q, pool, subject = f"{ctx} What was {name}'s favourite colour?", COLOURS, "colours"
        elif kind == 1:
            gold = rng.choice(ANIMALS)
            ctx = f"In the garden, {name} saw a {gold}."
            q, pool, subject = f"{ctx} What did {name} see?", ANIMALS, "animals"
        elif kind == 2:
            gold = rng.choice(PLACES)
            ctx = f"{name} wanted to go to the {gold}."
            q, pool, subject = f"{ctx} Where did {name} want to go?", PLACES, "places"
        else:
            gold = rng.choice(WEATHER)
            ctx = f"It was a {gold} day."
            q, pool, subject = f"{ctx} What was the weather like?", WEATHER, "weather"
        choices = [gold, *rng.sample([p for p in pool if p != gold], 3)]
        rng.shuffle(choices)
        rows.append(
            {"subject": subject, "question": q, "choices": choices, "answer": choices.index(gold)}
        )
    return rows


def hellaswag_items(n: int = 30, seed: int = 1) -> list[dict]:
    """HellaSwag-format items (``ctx, endings, label``): pick the sentence that continues."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name, friend = rng.sample(NAMES, 2)
        place, animal, food = rng.choice(PLACES), rng.choice(ANIMALS), rng.choice(FOODS)
        ctx = f"{name} and {friend} went to the {place}. They were hungry, so they"
        gold = f"ate some {food} together."
        wrong = [
            f"the {animal} was very {rng.choice(COLOURS)} and the sky.",
            f"{rng.choice(WEATHER)} went {rng.choice(PLACES)} a the {animal}.",
            f"said the {place} {rng.choice(COLOURS)} {rng.choice(COLOURS)} on.",
        ]
        endings = [gold, *wrong]
        rng.shuffle(endings)
        rows.append(
            {
                "activity_label": "Story",
                "ctx": ctx,
                "endings": endings,
                "label": str(endings.index(gold)),
            }
        )
    return rows


def gsm8k_items(n: int = 20, seed: int = 2) -> list[dict]:
    """GSM8K-format word problems (``question``, ``answer`` ending in ``#### N``)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name, food = rng.choice(NAMES), rng.choice(FOODS)
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        if rng.random() < 0.5:
            q = f"{name} had {a} {food}. A kind baker gave {name} {b} more. How many {food} now?"
            ans = f"{name} had {a} and got {b} more, so {a} + {b} = {a + b}.\n#### {a + b}"
        else:
            a += b
            q = f"{name} had {a} {food} and ate {b} of them. How many {food} were left?"
            ans = f"{name} had {a} and ate {b}, so {a} - {b} = {a - b}.\n#### {a - b}"
        rows.append({"question": q, "answer": ans})
    return rows


# (task_id, prompt, correct completion, wrong completion, test, entry point)
PROBLEMS = [
    (
        "add",
        'def add(a, b):\n    """Return a + b."""\n',
        "    return a + b\n",
        "    return a - b\n",
        "def check(f):\n    assert f(1, 2) == 3\n    assert f(-1, 1) == 0\n",
        "add",
    ),
    (
        "reverse",
        'def reverse(s):\n    """Return s reversed."""\n',
        "    return s[::-1]\n",
        "    return s\n",
        "def check(f):\n    assert f('abc') == 'cba'\n    assert f('') == ''\n",
        "reverse",
    ),
    (
        "count_vowels",
        'def count_vowels(s):\n    """Number of vowels in s."""\n',
        "    return sum(c in 'aeiouAEIOU' for c in s)\n",
        "    return sum(c in 'aeiou' for c in s)\n",
        "def check(f):\n    assert f('Apple') == 2\n    assert f('xyz') == 0\n",
        "count_vowels",
    ),
    (
        "is_prime",
        'def is_prime(n):\n    """True if n is prime."""\n',
        "    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n",
        "    return n % 2 == 1\n",
        "def check(f):\n    assert f(2) and f(13) and not f(1) and not f(9)\n",
        "is_prime",
    ),
    (
        "fib",
        'def fib(n):\n    """The n-th Fibonacci number, fib(0) = 0."""\n',
        "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "    a, b = 0, 1\n    while True:\n        a, b = b, a + b\n    return a\n",
        "def check(f):\n    assert f(0) == 0 and f(10) == 55\n",
        "fib",
    ),
]

HOSTILE = [
    ("add", "    import os\n    while True:\n        os.fork()\n", "fork bomb"),
    (
        "reverse",
        "    import socket\n    socket.create_connection(('example.com', 80))\n"
        "    return s[::-1]\n",
        "network",
    ),
    (
        "count_vowels",
        "    open('/tmp/ch11-escape.txt', 'w').write('x')\n"
        "    return sum(c in 'aeiouAEIOU' for c in s)\n",
        "write outside",
    ),
    ("is_prime", "    block = bytearray(4 * 10**9)\n    return len(block) > n\n", "memory hog"),
    ("fib", "    print('spam' * 10**7)\n    return 0\n", "output flood"),
]


def humaneval_samples() -> list[dict]:
    """HumanEval-format samples: per problem a correct and a wrong completion, plus hostile ones."""
    rows = []
    for task_id, prompt, good, bad, test, entry in PROBLEMS:
        base = {
            "task_id": f"llmpath/{task_id}",
            "prompt": prompt,
            "test": test,
            "entry_point": entry,
        }
        rows.append({**base, "completion": good})
        rows.append({**base, "completion": bad})
    by_id = {p[0]: p for p in PROBLEMS}
    for task_id, code, _why in HOSTILE:
        _, prompt, _, _, test, entry = by_id[task_id]
        rows.append(
            {
                "task_id": f"llmpath/{task_id}",
                "prompt": prompt,
                "test": test,
                "entry_point": entry,
                "completion": code,
            }
        )
    return rows


FILES = {
    "mmlu_sample.jsonl": mmlu_items,
    "hellaswag_sample.jsonl": hellaswag_items,
    "gsm8k_sample.jsonl": gsm8k_items,
    "humaneval_samples.jsonl": humaneval_samples,
}


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write_all(folder: Path) -> None:
    """Write every bundled sample into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        (folder / name).write_text(render(make()), encoding="utf-8")


if __name__ == "__main__":
    write_all(Path(__file__).resolve().parent / "data")
