"""A bundled BFCL-style tool-call benchmark, generated deterministically from templates.

Five categories as in BFCL v1's AST suite: ``simple`` (one function offered, one call),
``multiple`` (several offered, one call), ``parallel`` (one function, several calls),
``parallel_multiple`` (several functions, several calls) and ``irrelevance`` (no function fits:
the right answer is no call). Each case is an entry in BFCL's own layout: ``question``,
``function`` (the offered functions, parameters in BFCL's JSON Schema dialect) and
``ground_truth`` (``[{name: {param: [acceptable values]}}]``, ``""`` marking an optional parameter
that may be left out).
"""

from __future__ import annotations

import copy
import random
from typing import Any

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "office"]
CITIES = ["Paris", "Berlin", "Tokyo", "Lima", "Oslo", "Cairo"]
PLAYLISTS = ["jazz", "rock", "focus", "sleep"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP"]


def _fn(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict:
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "dict", "properties": props, "required": required},
    }


FUNCTIONS: dict[str, dict[str, Any]] = {
    f["name"]: f
    for f in [
        _fn(
            "set_light",
            "Switch the light of a room on or off.",
            {
                "room": {"type": "string", "enum": ROOMS, "description": "the room"},
                "state": {"type": "string", "enum": ["on", "off"], "description": "on or off"},
                "brightness": {
                    "type": "integer",
                    "description": "brightness in percent",
                    "default": 100,
                },
            },
            ["room", "state"],
        ),
        _fn(
            "set_thermostat",
            "Set the target temperature of a room.",
            {
                "room": {"type": "string", "enum": ROOMS, "description": "the room"},
                "temperature": {"type": "float", "description": "target temperature"},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "temperature unit",
                    "default": "celsius",
                },
            },
            ["room", "temperature"],
        ),
        _fn(
            "get_weather",
            "Get the weather forecast for a city.",
            {
                "city": {"type": "string", "description": "city name"},
                "days": {"type": "integer", "description": "days ahead", "default": 1},
            },
            ["city"],
        ),
        _fn(
            "play_music",
            "Play a playlist in a room.",
            {
                "room": {"type": "string", "enum": ROOMS, "description": "the room"},
                "playlist": {"type": "string", "description": "playlist name"},
                "volume": {"type": "integer", "description": "volume 0-100", "default": 50},
            },
            ["room", "playlist"],
        ),
        _fn(
            "convert_currency",
            "Convert an amount of money between currencies.",
            {
                "amount": {"type": "float", "description": "amount to convert"},
                "from_currency": {"type": "string", "description": "ISO code, e.g. USD"},
                "to_currency": {"type": "string", "description": "ISO code, e.g. EUR"},
            },
            ["amount", "from_currency", "to_currency"],
        ),
        _fn(
            "add_reminder",
            "Add a reminder with optional tags.",
            {
                "text": {"type": "string", "description": "what to remember"},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "tags"},
            },
            ["text"],
        ),
    ]
}


def _one(name: str, rng: random.Random) -> tuple[str, dict[str, list]]:
    """A question and the ground-truth arguments for one call of ``name``."""
    if name == "set_light":
        room, state = rng.choice(ROOMS), rng.choice(["on", "off"])
        if state == "on" and rng.random() < 0.5:
            b = rng.choice([20, 40, 60, 80])
            return f"turn the {room} light on at {b} percent", {
                "room": [room],
                "state": ["on"],
                "brightness": [b],
            }
        return f"turn the {room} light {state}", {
            "room": [room],
            "state": [state],
            "brightness": ["", 100],
        }
    if name == "set_thermostat":
        room, t = rng.choice(ROOMS), rng.choice([18, 19, 20, 21, 22, 23])
        if rng.random() < 0.4:
            f = round(t * 9 / 5 + 32)
            return f"set the {room} to {f} degrees fahrenheit", {
                "room": [room],
                "temperature": [float(f)],
                "unit": ["fahrenheit"],
            }
        return f"set the {room} to {t} degrees", {
            "room": [room],
            "temperature": [float(t)],
            "unit": ["", "celsius"],
        }
    if name == "get_weather":
        city = rng.choice(CITIES)
        if rng.random() < 0.5:
            d = rng.choice([2, 3, 5])
            return f"what is the weather in {city} in {d} days", {"city": [city], "days": [d]}
        return f"what is the weather in {city}", {"city": [city], "days": ["", 1]}
    if name == "play_music":
        room, pl = rng.choice(ROOMS), rng.choice(PLAYLISTS)
        if rng.random() < 0.5:
            v = rng.choice([10, 30, 70])
            return f"play {pl} in the {room} at volume {v}", {
                "room": [room],
                "playlist": [pl],
                "volume": [v],
            }
        return f"play {pl} in the {room}", {
            "room": [room],
            "playlist": [pl],
            "volume": ["", 50],
        }
    if name == "convert_currency":
        a = rng.choice([5, 20, 100, 250])
        f, t = rng.sample(CURRENCIES, 2)
        return f"convert {a} {f} to {t}", {
            "amount": [float(a)],
            "from_currency": [f],
            "to_currency": [t],
        }
    if name == "add_reminder":
        text = rng.choice(["buy milk", "call mom", "water plants", "pay rent"])
        if rng.random() < 0.5:
            tag = rng.choice(["home", "family", "money"])
            return f"remind me to {text} tagged {tag}", {"text": [text], "tags": [[tag]]}
        return f"remind me to {text}", {"text": [text], "tags": [""]}
    raise KeyError(name)


IRRELEVANT = [
    "tell me a joke about cats",
    "who wrote the odyssey",
    "what is the square root of 81",
    "translate hello into french",
    "how many legs does a spider have",
    "summarise the plot of hamlet",
    "what year did the berlin wall fall",
    "recommend a good book",
]


def make_cases(n_per_category: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """``5 * n_per_category`` BFCL-layout entries (id, category, question, function, truth)."""
    rng = random.Random(seed)
    names = sorted(FUNCTIONS)
    cases = []
    for category in CATEGORIES:
        for i in range(n_per_category):
            if category == "simple":
                picks = [rng.choice(names)]
                offered = picks
            elif category == "multiple":
                picks = [rng.choice(names)]
                offered = sorted({picks[0], *rng.sample(names, 3)})
            elif category == "parallel":
                picks = [rng.choice(names)] * rng.choice([2, 3])
                offered = picks[:1]
            elif category == "parallel_multiple":
                picks = rng.sample(names, 2)
                offered = sorted({*picks, *rng.sample(names, 2)})
            else:
                picks = []
                offered = sorted(rng.sample(names, 2))
            parts, truth = [], []
            seen_questions = set()
            for name in picks:
                for _ in range(20):  # parallel calls must differ
                    q, args = _one(name, rng)
                    if q not in seen_questions:
                        break
                seen_questions.add(q)
                parts.append(q)
                truth.append({name: args})
            question = " and ".join(parts) if parts else IRRELEVANT[i % len(IRRELEVANT)]
            cases.append(
                {
                    "id": f"{category}_{i}",
                    "category": category,
                    "question": question,
                    "function": [FUNCTIONS[n] for n in offered],
                    "ground_truth": truth,
                }
            )
    return cases


def oracle_calls(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls a perfect model makes: the first acceptable value of each parameter."""
    calls = []
    for item in case["ground_truth"]:
        ((name, params),) = item.items()
        args = {p: v[0] for p, v in params.items() if v and v[0] != ""}
        calls.append({"name": name, "arguments": args})
    return calls


def to_check_case(case: dict[str, Any], predicted: list[dict[str, Any]]) -> dict[str, Any]:
    """A BFCL entry plus predicted calls as a ``check-calls`` line (with its own functions)."""
    expected = [
        {"name": name, "arguments": params}
        for item in case["ground_truth"]
        for name, params in item.items()
    ]
    return {
        "id": case["id"],
        "category": case["category"],
        "functions": case["function"],
        "predicted": predicted,
        "expected": expected,
    }


# --------------------------------------------------------------------------- perturbations


def _string_variant(s: str) -> str:
    return s.replace(" ", "-").upper() if " " in s else s.capitalize() + "."


def perturbations(case: dict, calls: list[dict], seed: int = 0) -> list[tuple[str, list[dict]]]:
    """Named variants of ``calls``: some still correct under BFCL's rules, most not."""
    rng = random.Random(seed)
    props = {f["name"]: f["parameters"]["properties"] for f in case["function"]}
    required = {f["name"]: f["parameters"]["required"] for f in case["function"]}
    out = [
        ("identity", calls),
        ("no_call", []),
        (
            "extra_call",
            calls + calls[:1] or [{"name": case["function"][0]["name"], "arguments": {}}],
        ),
    ]
    if len(calls) > 1:
        out.append(("reversed", calls[::-1]))
        out.append(("drop_one", calls[1:]))
        swapped = copy.deepcopy(calls)
        a, b = swapped[0]["arguments"], swapped[1]["arguments"]
        common = [k for k in a if k in b and a[k] != b[k]]
        if common:
            k = common[0]
            a[k], b[k] = b[k], a[k]
            out.append(("swap_values", swapped))
    for idx, call in enumerate(calls):
        name, args = call["name"], call["arguments"]
        p = props[name]

        def variant(tag: str, new_args=None, new_name=None, idx: int = idx) -> None:
            c = copy.deepcopy(calls)
            if new_args is not None:
                c[idx]["arguments"] = new_args
            if new_name is not None:
                c[idx]["name"] = new_name
            out.append((f"{tag}[{idx}]", c))

        others = [f["name"] for f in case["function"] if f["name"] != name]
        variant("rename", new_name=others[0] if others else name + "_v2")
        for k in required[name]:
            variant(f"drop_required:{k}", {x: v for x, v in args.items() if x != k})
            break
        for k in p:
            if k not in required[name]:
                if k in args:
                    variant(f"drop_optional:{k}", {x: v for x, v in args.items() if x != k})
                elif "default" in p[k]:
                    variant(f"explicit_default:{k}", {**args, k: p[k]["default"]})
        variant("unexpected_param", {**args, "verbose": True})
        for k, v in args.items():
            t = p[k]["type"]
            if t == "string":
                variant(f"string_variant:{k}", {**args, k: _string_variant(v)})
                choices = [c for c in p[k].get("enum", ["Atlantis", "XYZ"]) if c != v]
                variant(f"wrong_value:{k}", {**args, k: rng.choice(choices)})
                variant(f"number_for_string:{k}", {**args, k: 7})
            elif t == "integer":
                variant(f"float_for_int:{k}", {**args, k: float(v)})
                variant(f"string_for_int:{k}", {**args, k: str(v)})
                variant(f"bool_for_int:{k}", {**args, k: True})
                variant(f"off_by_one:{k}", {**args, k: v + 1})
            elif t == "float":
                variant(f"int_for_float:{k}", {**args, k: int(v)})
                variant(f"string_for_float:{k}", {**args, k: str(v)})
                variant(f"wrong_value:{k}", {**args, k: v + 0.5})
            elif t == "array":
                variant(f"scalar_for_array:{k}", {**args, k: v[0]})
                variant(f"list_case:{k}", {**args, k: [x.upper() for x in v]})
                variant(f"list_extra:{k}", {**args, k: [*v, "misc"]})
                variant(f"list_item_type:{k}", {**args, k: [1]})
    return out


def example_lines(seed: int = 0, n_per_category: int = 4) -> list[dict[str, Any]]:
    """``check-calls`` lines for the bundled example: each case with one perturbed prediction."""
    rng = random.Random(seed)
    lines = []
    for case in make_cases(n_per_category, seed):
        variants = perturbations(case, oracle_calls(case), seed)
        tag, predicted = variants[0] if rng.random() < 0.4 else rng.choice(variants)
        line = to_check_case(case, predicted)
        line.pop("functions")
        line["id"] = f"{case['id']}:{tag}"
        lines.append(line)
    return lines
