"""Plan-and-execute with goal decomposition, hierarchical plans and replanning.

A planner turns a goal into a *hierarchical* plan: sub-goals, each a list of tool calls
(:class:`Task`). The executor runs the tasks in order through a
:class:`~ch19_agents.tools.Toolbox`. When a task fails, the planner is asked to *replan* with
what happened so far (done tasks, the failed task and its error); it returns the new remaining
plan, and execution continues, up to ``max_replans`` times. Unlike ReAct, the model is consulted
once per plan rather than once per action: fewer model calls, at the price of reacting only when
something fails.

:class:`RulePlanner` is a deterministic planner for the smart-home goals (so the lab runs
offline); anything with ``plan(goal)`` and ``replan(goal, done, failed, error)`` works, e.g. a
prompt to a chat model that answers with JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from ch19_agents.tools import Toolbox


@dataclass
class Task:
    """One tool call in a plan, with the sub-goal it serves."""

    subgoal: str
    tool: str
    arguments: dict[str, Any]


@dataclass
class PlanResult:
    goal: str
    status: str  # done or failed
    plans: list[list[dict[str, Any]]]  # every plan made (the first, then each replan)
    executed: list[dict[str, Any]] = field(default_factory=list)
    replans: int = 0


class Planner(Protocol):
    def plan(self, goal: str) -> list[Task]: ...

    def replan(
        self, goal: str, done: list[Task], failed: Task, error: str, remaining: list[Task]
    ) -> list[Task]: ...


ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "office"]


class RulePlanner:
    """Decomposes the smart-home goals "night", "away", "warm ... to N degrees" and "guests".

    Replanning rules: a temperature outside the allowed range is clamped to the bound named in
    the error; a door that needs an approval is skipped and reported; an unknown or forbidden
    tool's task is dropped.
    """

    def plan(self, goal: str) -> list[Task]:
        g = goal.lower()
        tasks: list[Task] = []
        if "night" in g or "away" in g:
            tasks += [
                Task("secure the house", "lock_door", {"door": d})
                for d in ("front", "back", "garage")
            ]
            tasks += [Task("lights off", "set_light", {"room": r, "on": False}) for r in ROOMS]
            temp = 17.0 if "away" in g else 19.0
            tasks.append(
                Task("climate", "set_thermostat", {"room": "bedroom", "temperature": temp})
            )
        m = re.search(r"warm .*?to (\d+(?:\.\d+)?)", g)
        if m:
            for room in ("living room", "kitchen"):
                tasks.append(
                    Task(
                        "climate",
                        "set_thermostat",
                        {"room": room, "temperature": float(m.group(1))},
                    )
                )
        if "guest" in g:
            tasks.append(
                Task("welcome", "set_light", {"room": "living room", "on": True, "brightness": 80})
            )
            tasks.append(Task("welcome", "play_music", {"room": "living room", "playlist": "jazz"}))
            tasks.append(Task("let them in", "unlock_door", {"door": "front"}))
        return tasks

    def replan(
        self, goal: str, done: list[Task], failed: Task, error: str, remaining: list[Task]
    ) -> list[Task]:
        """The new remaining plan after ``failed`` failed with ``error``."""
        m = re.search(r"outside the allowed (\d+)-(\d+)", error)
        if m and failed.tool == "set_thermostat":
            lo, hi = float(m.group(1)), float(m.group(2))
            clamp = min(max(failed.arguments["temperature"], lo), hi)
            fixed = [
                Task(t.subgoal, t.tool, {**t.arguments, "temperature": clamp})
                if t.tool == "set_thermostat" and not lo <= t.arguments["temperature"] <= hi
                else t
                for t in [failed, *remaining]
            ]
            return fixed
        return remaining  # skip the failed task (approval needed, forbidden tool...)


def plan_and_execute(
    planner: Planner, toolbox: Toolbox, goal: str, max_replans: int = 3
) -> PlanResult:
    """Make a plan for ``goal``, run it, and replan after each failure."""
    tasks = planner.plan(goal)
    result = PlanResult(goal, "done", [[_task_dict(t) for t in tasks]])
    done: list[Task] = []
    while tasks:
        task = tasks.pop(0)
        call = toolbox.call(task.tool, task.arguments)
        result.executed.append({**_task_dict(task), "ok": call.ok, "error": call.error})
        if call.ok:
            done.append(task)
            continue
        if result.replans >= max_replans:
            result.status = "failed"
            break
        result.replans += 1
        tasks = planner.replan(goal, done, task, call.error or "", tasks)
        result.plans.append([_task_dict(t) for t in tasks])
    return result


def _task_dict(t: Task) -> dict[str, Any]:
    return {"subgoal": t.subgoal, "tool": t.tool, "arguments": t.arguments}
