"""Game of 24: chain-of-thought vs tree-of-thoughts with a learned value model.

Tree of Thoughts (Yao et al. 2023) on Game of 24: a *thought* is one step, "pick two numbers,
apply an operation"; the model proposes steps, a value model rates the states, and breadth-first
search keeps the best ``breadth`` states per level (depth-first search backtracks instead).

- **CoT**: the model writes a whole chain; up to ``budget`` chains are sampled.
- **ToT-BFS / ToT-DFS**: each proposal is one model call that writes one step (stops at ``;``).
  The environment applies the picked operation exactly, so a state is always a true multiset.
  The value model is a head on the policy's hidden state after the step, trained on solver
  labels ("can the numbers left still make 24?"); rating a state counts as a model call too.

Both methods may check a finished candidate exactly (24 is verifiable) and stop at the first
that checks; ``model_calls`` counts every generation and every value rating.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ch12_reasoning import problems as P

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer
    from ch12_reasoning.prm import ScoreHead


@dataclass
class State:
    """Numbers left (value, expression) and the step text written so far."""

    items: list[tuple[int, str]]
    text: str = ""

    @property
    def values(self) -> list[int]:
        return sorted(v for v, _ in self.items)


@dataclass
class Outcome:
    """One puzzle's result."""

    numbers: list[int]
    solution: str | None
    model_calls: int
    tokens: int
    trace: list[str] = field(default_factory=list)


def parse_step(step: str) -> tuple[int, str, int] | None:
    """``"8/4=2>2 7 8;"`` → ``(8, "/", 4)``; anything malformed → ``None``."""
    head = step.split("=", 1)[0]
    for i, ch in enumerate(head):
        if i > 0 and ch in P.G24_OPS:
            try:
                return int(head[:i]), ch, int(head[i + 1 :])
            except ValueError:
                return None
    return None


def apply_step(state: State, step: str) -> State | None:
    """Apply a proposed step's operation to ``state`` exactly; ``None`` if it is not legal."""
    parsed = parse_step(step)
    if parsed is None:
        return None
    a, op, b = parsed
    c = P.legal_step(a, op, b)
    items = list(state.items)
    try:
        ia = next(i for i, (v, _) in enumerate(items) if v == a)
        ea = items.pop(ia)[1]
        ib = next(i for i, (v, _) in enumerate(items) if v == b)
        eb = items.pop(ib)[1]
    except StopIteration:
        return None
    if c is None:
        return None
    items.append((c, f"({ea}{op}{eb})"))
    items.sort()
    rest = [v for v, _ in items]
    return State(items, state.text + P.g24_step_text(a, op, b, c, rest))


def root(numbers: Sequence[int]) -> State:
    return State(sorted((n, str(n)) for n in numbers))


def solution_of(state: State, numbers: Sequence[int]) -> str | None:
    """The expression of a finished state if it checks (uses the numbers once, equals 24)."""
    if len(state.items) != 1:
        return None
    expr = state.items[0][1]
    expr = expr[1:-1] if expr.startswith("(") and expr.endswith(")") else expr
    return expr if P.check24(numbers, expr) else None


def train_value_model(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    *,
    n_puzzles: int = 300,
    seed: int = 0,
    epochs: int = 300,
) -> tuple[ScoreHead, float]:
    """Fit the value head on states from training puzzles; returns it and held-out accuracy.

    States: one random legal step, and two random legal steps, from each puzzle, plus the
    states along a solution path; label = the solver says the numbers left can make 24.
    """
    import torch

    from ch12_reasoning.prm import ScoreHead, hidden_at

    rng = random.Random(seed)
    train, _ = P.g24_split()
    puzzles = rng.sample(train, n_puzzles)
    prompts, texts = [], []
    for puzzle in puzzles:
        paths = P.integer_paths(puzzle, limit=5)
        walks = [rng.choice(paths)[:2]] if paths else []
        for _ in range(2):
            walk, state = [], sorted(puzzle)
            for _depth in range(2):
                moves = [
                    (a, op, b, c)
                    for i, a in enumerate(state)
                    for j, b in enumerate(state)
                    if i != j
                    for op in P.G24_OPS
                    if (c := P.legal_step(a, op, b)) is not None
                ]
                a, op, b, c = rng.choice(moves)
                state = list(state)
                state.remove(a)
                state.remove(b)
                state = sorted([*state, c])
                walk.append((a, op, b, c))
            walks.append(walk)
        for walk in walks:
            state, text = sorted(puzzle), ""
            for a, op, b, c in walk:
                state.remove(a)
                state.remove(b)
                state = sorted([*state, c])
                text += P.g24_step_text(a, op, b, c, state)
            prompts.append(P.g24_prompt(puzzle))
            texts.append(text)
    feats = hidden_at(model, tok, prompts, texts)
    # every step of a walk is one example, labelled by the numbers it leaves
    xs, ys = [], []
    for (steps, _), text in zip(feats, texts, strict=True):
        for k, step in enumerate(s for s in text.split(";") if s):
            rest = [int(x) for x in step.split(">")[1].split()]
            xs.append(steps[k])
            ys.append(float(P.solvable(rest)))
    x, y = torch.stack(xs), torch.tensor(ys)
    cut = int(len(x) * 0.8)
    head = ScoreHead(model.config.hidden_size + 2, seed)
    head.fit(x[:cut], y[:cut], epochs=epochs)
    acc = float(((head.score(x[cut:]) > 0.5).float() == y[cut:]).float().mean())
    return head, acc


class Game24Solver:
    """CoT and ToT over one policy, with model-call accounting and a call budget."""

    def __init__(
        self,
        model: LlamaForCausalLM,
        tok: CharTokenizer,
        value: ScoreHead | None = None,
        *,
        temperature: float = 1.0,
    ) -> None:
        self.model, self.tok, self.value, self.temperature = model, tok, value, temperature

    def cot(self, numbers: Sequence[int], budget: int = 1) -> Outcome:
        """Sample up to ``budget`` whole chains; return the first whose steps make 24.

        The chains are generated in one batch, but calls and tokens are counted as if they were
        drawn one after another, up to the first that checks.
        """
        from ch12_reasoning.sampling import Counter, sample

        counter, trace = Counter(), []
        prompt = P.g24_prompt(numbers)
        while counter.calls < budget:
            lengths: list[int] = []
            chains = sample(
                self.model,
                self.tok,
                [prompt] * min(64, budget - counter.calls),
                temperature=self.temperature,
                lengths=lengths,
            )
            for chain, n in zip(chains, lengths, strict=True):
                counter.calls += 1
                counter.tokens += n
                trace.append(chain)
                state: State | None = root(numbers)
                for step in (s + ";" for s in chain.split("#", 1)[0].split(";") if s):
                    state = apply_step(state, step) if state is not None else None
                if state is not None and (sol := solution_of(state, numbers)):
                    return Outcome(list(numbers), sol, counter.calls, counter.tokens, trace)
        return Outcome(list(numbers), None, counter.calls, counter.tokens, trace)

    def _rate(self, states: list[State], numbers: Sequence[int]) -> list[float]:
        from ch12_reasoning.prm import hidden_at

        if self.value is None:
            return [0.0] * len(states)
        feats = hidden_at(
            self.model, self.tok, [P.g24_prompt(numbers)] * len(states), [s.text for s in states]
        )
        return [float(self.value.score(steps[-1:])[0]) for steps, _ in feats]

    def tot(
        self,
        numbers: Sequence[int],
        budget: int = 60,
        *,
        proposals: int = 5,
        breadth: int = 3,
        search: str = "bfs",
    ) -> Outcome:
        """Tree-of-thoughts search (``bfs`` or ``dfs``) within ``budget`` model calls."""
        from ch12_reasoning.sampling import Counter, sample

        counter = Counter()
        prompt = P.g24_prompt(numbers)
        k = proposals if self.temperature > 0 else 1

        def expand(state: State) -> list[State]:
            n = min(k, budget - counter.calls)
            if n <= 0:
                return []
            steps = sample(
                self.model,
                self.tok,
                [prompt + state.text] * n,
                temperature=self.temperature,
                max_new_tokens=16,
                stop=";",
                counter=counter,
            )
            children: dict[str, State] = {}
            for step in steps:
                child = apply_step(state, step)
                if child is not None and child.text not in children:
                    children[child.text] = child
            kids = list(children.values())
            if self.value is not None and kids and len(kids[0].items) > 1:
                room = budget - counter.calls
                kids = kids[: max(room, 0)]
                scores = self._rate(kids, numbers)
                counter.calls += len(kids)
                kids = [s for _, s in sorted(zip(scores, kids, strict=True), key=lambda t: -t[0])]
            return kids

        if search == "bfs":
            frontier = [root(numbers)]
            for _depth in range(3):
                children: list[State] = []
                for state in frontier:
                    for child in expand(state):
                        if sol := solution_of(child, numbers):
                            return Outcome(
                                list(numbers), sol, counter.calls, counter.tokens, [child.text]
                            )
                        children.append(child)
                frontier = (
                    children[:breadth]
                    if self.value is None
                    else _top(children, breadth, self, numbers)
                )
                if not frontier:
                    break
            return Outcome(
                list(numbers), None, counter.calls, counter.tokens, [s.text for s in frontier]
            )
        if search == "dfs":
            stack = [root(numbers)]
            while stack and counter.calls < budget:
                state = stack.pop()
                kids = expand(state)
                for child in kids:
                    if sol := solution_of(child, numbers):
                        return Outcome(
                            list(numbers), sol, counter.calls, counter.tokens, [child.text]
                        )
                # best child on top of the stack; prune at most `breadth` children per node
                stack.extend(reversed([c for c in kids[:breadth] if len(c.items) > 1]))
            return Outcome(list(numbers), None, counter.calls, counter.tokens)
        raise ValueError(f"unknown search {search!r}: bfs or dfs")


def _top(
    children: list[State], breadth: int, solver: Game24Solver, numbers: Sequence[int]
) -> list[State]:
    # children of each parent arrive sorted by value; keep the best `breadth` overall by
    # re-rating without charging again (the scores were already paid for in expand)
    if len(children) <= breadth:
        return children
    scores = solver._rate(children, numbers)
    order = sorted(range(len(children)), key=lambda i: -scores[i])
    return [children[i] for i in order[:breadth]]


def run_game24(
    solver: Game24Solver,
    puzzles: Sequence[Sequence[int]],
    method: str,
    budget: int,
    **tot_kwargs: Any,
) -> dict[str, Any]:
    """Solve each puzzle with ``cot`` or ``tot``; the contract's JSON shape plus token counts."""
    outcomes = [
        solver.cot(p, budget) if method == "cot" else solver.tot(p, budget, **tot_kwargs)
        for p in puzzles
    ]
    return {
        "method": method,
        "budget": budget,
        "solved": sum(o.solution is not None for o in outcomes),
        "total": len(outcomes),
        "model_calls": sum(o.model_calls for o in outcomes),
        "tokens": sum(o.tokens for o in outcomes),
        "results": [{"numbers": o.numbers, "solution": o.solution} for o in outcomes],
    }
