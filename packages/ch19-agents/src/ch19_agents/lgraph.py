"""The same agent loop and the same workflow as langgraph ``StateGraph`` s, for comparison.

- :func:`react_langgraph`: ReAct as a two-node graph (``model`` → ``tools`` → ``model`` ... until
  the model answers without tool calls or the step budget is spent), calling the same backend and
  the same :class:`~ch19_agents.tools.Toolbox`; its tool-call trace equals our loop's on a
  scripted model (``tests/test_ch19_langgraph.py``).
- :func:`workflow_langgraph`: a :class:`~ch19_agents.workflow.Workflow` as a linear graph, one
  node per step, with langgraph's own ``RetryPolicy`` (exponential backoff), a checkpointer
  (state saved after every node; a crashed invocation resumes from the last checkpoint with
  ``invoke(None, config)``) and ``interrupt()`` at approval gates, resumed with
  ``Command(resume=...)``. The checkpointer is langgraph's ``InMemorySaver``
  (``langgraph-checkpoint-sqlite`` is not in the workspace lock), so here the "crash" is an
  exception inside the process, not a dead process.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ch19_agents.agent import SYSTEM, AgentResult, ChatBackend, execute_calls
from ch19_agents.tools import Toolbox
from ch19_agents.workflow import Step, StepContext, Workflow


class AgentState(TypedDict):
    messages: Annotated[list, operator.add]
    trace: Annotated[list, operator.add]
    steps: int


def react_langgraph(
    backend: ChatBackend, toolbox: Toolbox, user: str, max_steps: int = 8
) -> AgentResult:
    """Run one request through a langgraph ReAct graph; same result type as :class:`Agent`."""
    from langgraph.graph import END, START, StateGraph

    tools = toolbox.schemas()

    def model(state: AgentState) -> dict:
        messages = [{"role": "system", "content": SYSTEM}, *state["messages"]]
        return {"messages": [backend.chat(messages, tools)], "steps": state["steps"] + 1}

    def run_tools(state: AgentState) -> dict:
        calls = state["messages"][-1].get("tool_calls") or []
        done = execute_calls(toolbox, calls, state["steps"])
        return {"messages": [m for m, _ in done], "trace": [e for _, e in done]}

    def route(state: AgentState) -> str:
        if not state["messages"][-1].get("tool_calls"):
            return END
        return "tools"

    def after_tools(state: AgentState) -> str:
        return END if state["steps"] >= max_steps else "model"

    graph = StateGraph(AgentState)
    graph.add_node("model", model)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, {"tools": "tools", END: END})
    graph.add_conditional_edges("tools", after_tools, {"model": "model", END: END})
    app = graph.compile()
    final = app.invoke(
        {"messages": [{"role": "user", "content": user}], "trace": [], "steps": 0},
        {"recursion_limit": 4 * max_steps + 4},
    )
    last = final["messages"][-1]
    if last.get("role") == "assistant" and not last.get("tool_calls"):
        answer = last.get("content") or ""
        status = "asked" if answer.rstrip().endswith("?") else "done"
    else:
        answer, status = "step budget exhausted", "budget"
    return AgentResult(answer, status, final["steps"], final["trace"], final["messages"])


class FlowState(TypedDict):
    input: dict
    outputs: Annotated[dict, lambda a, b: {**a, **b}]
    trace: Annotated[list, operator.add]
    attempts: Annotated[dict, lambda a, b: {**a, **b}]


class _Effects:
    """An idempotency ledger in memory: ``ctx.effect`` as in the SQLite engine."""

    def __init__(self) -> None:
        self.done: dict[str, Any] = {}
        self.log: list[str] = []


def workflow_langgraph(workflow: Workflow, effects: _Effects | None = None, crash=None):
    """Compile ``workflow`` to a checkpointed langgraph graph: ``(app, effects)``.

    ``crash`` = ``"after:STEP"`` raises once at the end of STEP's node, before its checkpoint.
    """
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import RetryPolicy, interrupt

    effects = effects or _Effects()
    pending_crash = {"at": crash}
    attempts: dict[str, int] = {}

    class _Ctx(StepContext):
        def effect(self, key: str, fn):  # same contract as the SQLite engine
            full = f"{self.run_id}/{self.step}/{key}"
            if full not in effects.done:
                effects.done[full] = fn()
                effects.log.append(full)
            return effects.done[full]

    def node_for(step: Step):
        def node(state: FlowState) -> dict:
            if step.approval:
                decision = interrupt({"approve": step.name})
                if not decision:
                    return {"trace": [f"rejected:{step.name}"]}
            attempts[step.name] = attempts.get(step.name, 0) + 1
            ctx = _Ctx(None, "lg", step.name, state["input"], state["outputs"], attempts[step.name])
            output = step.fn(ctx)
            if pending_crash["at"] == f"after:{step.name}":
                pending_crash["at"] = None
                raise RuntimeError(f"injected crash after step {step.name}")
            return {"outputs": {step.name: output}, "trace": [step.name]}

        return node

    graph = StateGraph(FlowState)
    previous = START
    for step in workflow.steps:
        policy = RetryPolicy(
            initial_interval=step.backoff_s,
            backoff_factor=2.0,
            max_attempts=step.retries + 1,
            jitter=False,
            retry_on=ConnectionError,
        )
        graph.add_node(step.name, node_for(step), retry_policy=policy)
        graph.add_edge(previous, step.name)
        previous = step.name
    graph.add_edge(previous, END)
    return graph.compile(checkpointer=InMemorySaver()), effects
