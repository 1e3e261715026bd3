"""Problem generators with exact solvers as oracles, and solver-written rationales.

Two task families, both deterministic for a given seed:

- **Multi-step arithmetic** (``7+5*3-4``): difficulty = number of operators (1-4), operands 1-9,
  operators ``+ - *`` with the usual precedence. The solver evaluates the expression exactly
  (``ast`` + :class:`fractions.Fraction`, never ``eval``) and writes the rationale as one
  reduction per step in a fixed format: ``5*3=15;7+15=22;22-4=18;#18``. Each step rewrites the
  leftmost highest-precedence operator, so a chain has exactly one correct next step: that is
  what makes step labels (for the process reward model) exact.
- **Game of 24**: four integers 1-13; combine two numbers at a time with ``+ - * /`` until one
  number is left; solved if it is 24. The solver searches all "pick two, apply op" reductions
  with exact fractions; a rationale is a solution path ``8/4=2>2 7 8;...`` (each step names the
  operation and the multiset that remains, sorted).
"""

from __future__ import annotations

import ast
import itertools
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path

from llmpath_core.errors import UserError

OPS = "+-*"
G24_OPS = "+-*/"
TARGET = 24


# ----------------------------------------------------------------------------- safe evaluation


def safe_eval(expression: str) -> Fraction:
    """Evaluate an arithmetic expression of integers, ``+ - * /`` and parentheses exactly.

    Parsed with :mod:`ast`; anything else (names, calls, powers) raises :class:`ValueError`.
    Division by zero raises :class:`ZeroDivisionError`.
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
        raise ValueError(f"unsupported element in {expression!r}: {type(node).__name__}")

    return walk(tree)


def expression_numbers(expression: str) -> list[int]:
    """The integer literals of ``expression``, in order (unary minus is not allowed here)."""
    tree = ast.parse(expression, mode="eval")
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]


# ----------------------------------------------------------------------------- arithmetic


@dataclass(frozen=True)
class Arithmetic:
    """One multi-step arithmetic problem: ``question`` like ``7+5*3-4``."""

    question: str
    answer: int
    difficulty: int  # number of operators

    @property
    def prompt(self) -> str:
        """What the model sees: the question followed by ``=``."""
        return f"{self.question}="


def _tokens(question: str) -> list[str]:
    out: list[str] = []
    for ch in question:
        if ch.isdigit() and out and out[-1].lstrip("-").isdigit():
            out[-1] += ch
        else:
            out.append(ch)
    return out


def arithmetic_steps(question: str) -> list[str]:
    """The solver's reduction steps, e.g. ``["5*3=15", "7+15=22", "22-4=18"]``.

    Each step reduces the leftmost ``*`` if there is one, else the leftmost ``+``/``-``: that is
    standard precedence with left associativity, so the last step's result equals
    :func:`safe_eval` of the question.
    """
    toks = _tokens(question)
    steps = []
    while len(toks) > 1:
        ops = [i for i in range(1, len(toks), 2)]
        star = [i for i in ops if toks[i] == "*"]
        i = star[0] if star else ops[0]
        a, op, b = int(toks[i - 1]), toks[i], int(toks[i + 1])
        c = a * b if op == "*" else a + b if op == "+" else a - b
        steps.append(f"{a}{op}{b}={c}")
        toks[i - 1 : i + 2] = [str(c)]
    return steps


def arithmetic_rationale(question: str) -> str:
    """The full target the model is trained on: steps joined by ``;`` then ``;#answer``."""
    steps = arithmetic_steps(question)
    answer = steps[-1].split("=")[1]
    return ";".join(steps) + f";#{answer}"


def make_arithmetic(difficulty: int, rng: random.Random) -> Arithmetic:
    """One problem with ``difficulty`` operators, operands 1-9."""
    parts = [str(rng.randint(1, 9))]
    for _ in range(difficulty):
        parts += [rng.choice(OPS), str(rng.randint(1, 9))]
    question = "".join(parts)
    return Arithmetic(question, int(safe_eval(question)), difficulty)


def arithmetic_set(
    n: int, seed: int, difficulties: Sequence[int] = (1, 2, 3, 4)
) -> list[Arithmetic]:
    """``n`` problems cycling through ``difficulties``, deterministic for ``seed``."""
    rng = random.Random(seed)
    return [make_arithmetic(difficulties[i % len(difficulties)], rng) for i in range(n)]


#: Seeds of the fixed splits: the policy trains on ``TRAIN_SEED`` problems, everything measured
#: in the README is on ``HELDOUT_SEED`` problems (questions seen in training are removed).
TRAIN_SEED, HELDOUT_SEED = 1234, 98765


def heldout_arithmetic(n: int = 200) -> list[Arithmetic]:
    """The bundled held-out problems (deterministic): 50 per difficulty 1-4 by default."""
    return arithmetic_set(n, HELDOUT_SEED)


def parse_answer(text: str) -> int | None:
    """The integer after the last ``#`` in a generated chain, or ``None``."""
    if "#" not in text:
        return None
    tail = text.rsplit("#", 1)[1].strip()
    try:
        return int(tail)
    except ValueError:
        return None


def step_labels(question: str, chain: str) -> list[int]:
    """Label each generated step 1 (matches the solver's step at that position and every step
    before it matched) or 0. Steps are the ``;``-separated parts before ``#``."""
    gold = arithmetic_steps(question)
    steps = [s for s in chain.split("#", 1)[0].split(";") if s]
    labels, ok = [], True
    for i, step in enumerate(steps):
        ok = ok and i < len(gold) and step == gold[i]
        labels.append(int(ok))
    return labels


def load_problems(path: str | Path) -> list[Arithmetic]:
    """Read arithmetic problems from JSONL (``{"question": "7+5*3-4"}`` per line).

    ``answer`` is recomputed by the solver (and checked if given). Raises :class:`UserError` on
    anything malformed, naming the line.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    problems = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row["question"]).replace(" ", "")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(
                f'{path}:{lineno}: expected a JSON object with "question" ({exc})'
            ) from None
        toks = _tokens(question)
        if (
            len(toks) % 2 == 0
            or not all(t.isdigit() for t in toks[::2])
            or not all(t in OPS for t in toks[1::2])
        ):
            raise UserError(
                f"{path}:{lineno}: question {question!r} must be integers joined by + - *"
            )
        answer = int(safe_eval(question))
        if "answer" in row and int(row["answer"]) != answer:
            raise UserError(
                f"{path}:{lineno}: answer {row['answer']} is wrong, the solver says {answer}"
            )
        problems.append(Arithmetic(question, answer, len(toks) // 2))
    if not problems:
        raise UserError(f"{path}: no problems in the file")
    return problems


# ----------------------------------------------------------------------------- game of 24


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


def _fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"({x.numerator}/{x.denominator})"


@cache
def _solve(state: tuple[Fraction, ...]) -> tuple[tuple[int, str, int], ...] | None:
    """A solution path as (index, op, index) reductions over the sorted state, or ``None``."""
    if len(state) == 1:
        return () if state[0] == TARGET else None
    for i, j in itertools.permutations(range(len(state)), 2):
        for op in G24_OPS:
            c = _apply(state[i], op, state[j])
            if c is None:
                continue
            rest = tuple(sorted([state[k] for k in range(len(state)) if k not in (i, j)] + [c]))
            sub = _solve(rest)
            if sub is not None:
                return ((i, op, j), *sub)
    return None


def solvable(numbers: Iterable[int | Fraction]) -> bool:
    """True if the multiset can reach 24 with ``+ - * /`` (exact fractions)."""
    return _solve(tuple(sorted(Fraction(x) for x in numbers))) is not None


def solve24(numbers: Sequence[int]) -> str | None:
    """One expression that uses each number once and evaluates to 24, or ``None``."""
    state = sorted((Fraction(x), str(x)) for x in numbers)
    path = _solve(tuple(v for v, _ in state))
    if path is None:
        return None
    for i, op, j in path:
        (a, ea), (b, eb) = state[i], state[j]
        c = _apply(a, op, b)
        assert c is not None
        rest = [state[k] for k in range(len(state)) if k not in (i, j)]
        state = sorted([*rest, (c, f"({ea}{op}{eb})")], key=lambda t: t[0])
    expr = state[0][1]
    return expr[1:-1] if expr.startswith("(") and expr.endswith(")") else expr


def brute_force24(numbers: Sequence[int]) -> bool:
    """Independent check: every permutation, operator triple and the five binary-tree shapes."""
    for a, b, c, d in itertools.permutations(numbers):
        for o1, o2, o3 in itertools.product(G24_OPS, repeat=3):
            for form in (
                f"(({a}{o1}{b}){o2}{c}){o3}{d}",
                f"({a}{o1}({b}{o2}{c})){o3}{d}",
                f"({a}{o1}{b}){o2}({c}{o3}{d})",
                f"{a}{o1}(({b}{o2}{c}){o3}{d})",
                f"{a}{o1}({b}{o2}({c}{o3}{d}))",
            ):
                try:
                    if safe_eval(form) == TARGET:
                        return True
                except ZeroDivisionError:
                    continue
    return False


def check24(numbers: Sequence[int], expression: str) -> bool:
    """True if ``expression`` uses exactly ``numbers`` (as a multiset) and evaluates to 24."""
    try:
        used = expression_numbers(expression)
        value = safe_eval(expression)
    except (ValueError, ZeroDivisionError, SyntaxError):
        return False
    return sorted(used) == sorted(numbers) and value == TARGET


def parse_numbers(text: str) -> list[int]:
    """``"4 7 8 8"`` → ``[4, 7, 8, 8]``; anything but four integers 1-99 raises UserError."""
    parts = text.replace(",", " ").split()
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise UserError(f'--numbers {text!r}: expected four integers like "4 7 8 8"') from None
    if len(numbers) != 4:
        raise UserError(f"--numbers {text!r}: expected four integers, got {len(numbers)}")
    if not all(0 < n < 100 for n in numbers):
        raise UserError(f"--numbers {text!r}: each number must be between 1 and 99")
    return numbers


# Integer-only solution paths are what the model is trained to write (the step format has no
# fractions); about 95% of solvable 1-13 puzzles have one.


def integer_paths(
    numbers: Sequence[int], limit: int = 1000
) -> list[list[tuple[int, str, int, int]]]:
    """All solution paths (up to ``limit``) whose intermediate values are non-negative integers.

    A step is ``(a, op, b, c)`` with ``a >= b`` for ``+``/``*`` (one canonical order).
    """
    out: list[list[tuple[int, str, int, int]]] = []

    def rec(state: list[int], path: list[tuple[int, str, int, int]]) -> None:
        if len(out) >= limit:
            return
        if len(state) == 1:
            if state[0] == TARGET:
                out.append(list(path))
            return
        seen = set()
        for i, j in itertools.permutations(range(len(state)), 2):
            a, b = state[i], state[j]
            for op in G24_OPS:
                step = legal_step(a, op, b)
                if step is None or (a, op, b) in seen:
                    continue
                seen.add((a, op, b))
                rest = sorted([state[k] for k in range(len(state)) if k not in (i, j)] + [step])
                rec(rest, [*path, (a, op, b, step)])

    rec(sorted(numbers), [])
    return out


def legal_step(a: int, op: str, b: int) -> int | None:
    """The result of a step the model may write (non-negative integer, canonical order)."""
    if op in "+*" and a < b:
        return None
    if op == "-":
        return a - b if a >= b else None
    if op == "/":
        return a // b if b != 0 and a % b == 0 else None
    return a + b if op == "+" else a * b


def g24_prompt(numbers: Sequence[int]) -> str:
    """``G4 7 8 8:`` — what the model sees for a Game-of-24 puzzle."""
    return "G" + " ".join(str(n) for n in sorted(numbers)) + ":"


def g24_step_text(a: int, op: str, b: int, c: int, rest: Sequence[int]) -> str:
    """``8/4=2>2 7 8;`` — one step and the sorted multiset left after it."""
    return f"{a}{op}{b}={c}>" + " ".join(str(x) for x in sorted(rest)) + ";"


def g24_rationale(numbers: Sequence[int], path: Sequence[tuple[int, str, int, int]]) -> str:
    """A solution path in the step format, ending in ``#24``."""
    state = sorted(numbers)
    text = ""
    for a, op, b, c in path:
        state.remove(a)
        state.remove(b)
        state = sorted([*state, c])
        text += g24_step_text(a, op, b, c, state)
    return text + f"#{state[0]}"


def all_puzzles(lo: int = 1, hi: int = 13) -> list[tuple[int, int, int, int]]:
    """Every multiset of four numbers in ``lo..hi`` (1820 for 1-13)."""
    return list(itertools.combinations_with_replacement(range(lo, hi + 1), 4))


@lru_cache(maxsize=4)
def g24_split(
    seed: int = 0, n_test: int = 100
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Solvable puzzles with an integer path, split (train, held-out test) deterministically.

    Cached: callers get the same lists and must not modify them.
    """
    puzzles = [p for p in all_puzzles() if integer_paths(p, limit=1)]
    rng = random.Random(seed)
    rng.shuffle(puzzles)
    return puzzles[n_test:], sorted(puzzles[:n_test])
