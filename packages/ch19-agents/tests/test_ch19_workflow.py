"""Durable workflows: crash + resume with every effect once, retries, approvals, langgraph."""

from __future__ import annotations

import json

import pytest

from ch19_agents.agent import Agent, RuleModel, ScriptedModel, assistant, tool_call_trace
from ch19_agents.lgraph import react_langgraph
from ch19_agents.smarthome import Home, Preferences, home_toolbox
from ch19_agents.workflow import InjectedCrash, default_engine
from llmpath_core import UserError

STEPS = ["forecast", "plan", "heat", "lights", "unlock", "notify"]


@pytest.mark.parametrize("crash", ["after:plan", "during:lights", "after:lights"])
def test_resume_after_crash_runs_every_effect_once(tmp_path, crash):
    db = tmp_path / "wf.db"
    sleeps = []
    with pytest.raises(InjectedCrash):
        default_engine(db, crash=crash, sleep=sleeps.append).start("evening", run_id="r")
    engine = default_engine(db, sleep=sleeps.append)  # a new engine, as after a restart
    status = engine.resume("r")
    assert status.status == "waiting_approval" and status.waiting_on == "unlock"
    assert not any(k.startswith("r/unlock") for k, _ in engine.effects("r"))
    status = engine.approve("r")
    assert status.status == "done"
    keys = [k for k, _ in engine.effects("r")]
    assert keys == [
        "r/heat/thermostat",
        "r/lights/lights",
        "r/unlock/front_door",
        "r/notify/message",
    ]
    done = [s for kind, s, _ in engine.events("r") if kind == "step_done"]
    assert done == STEPS  # each step completed exactly once
    started = [s for kind, s, _ in engine.events("r") if kind == "step_started"]
    # only the step that crashed in its middle was started twice; its effect was reused
    assert started.count("lights") == (2 if crash == "during:lights" else 1)
    assert sleeps == [0.05]  # heat failed once, retried after the backoff


def test_retries_exhaust_then_fail_and_reject(tmp_path):
    from ch19_agents.workflow import Engine, evening_workflow

    engine = Engine(
        tmp_path / "w.db", {"evening": evening_workflow(fails=10)}, sleep=lambda s: None
    )
    status = engine.start("evening", run_id="x")
    assert status.status == "failed" and status.steps[2]["attempts"] == 4
    engine = default_engine(tmp_path / "v.db", sleep=lambda s: None)
    engine.start("evening", run_id="y")
    assert engine.approve("y", ok=False).status == "rejected"
    assert not any("front_door" in k for k, _ in engine.effects("y"))
    with pytest.raises(UserError, match="unknown workflow run id"):
        engine.status("nope")


def test_cli_crash_is_a_real_process_exit_then_approve(cli, tmp_path):
    db = str(tmp_path / "wf.db")
    proc = cli("workflow", "run", "--db", db, "--id", "w1", "--crash", "during:lights", "--json")
    assert proc.returncode == 3 and proc.stdout == ""  # the process died mid-step
    proc = cli("workflow", "resume", "--db", db, "--id", "w1", "--json")
    out = json.loads(proc.stdout)
    assert out["status"] == "waiting_approval" and out["waiting_on"] == "unlock"
    proc = cli("workflow", "approve", "--db", db, "--json")
    out = json.loads(proc.stdout)
    assert out["status"] == "done" and out["outputs"]["notify"]["sent"].startswith("Welcome")
    proc = cli("workflow", "status", "--db", db, "--id", "nope", "--json")
    assert proc.returncode == 2 and "unknown workflow run id" in proc.stderr


def test_agent_trace_equals_langgraph_on_a_scripted_model():
    def script():
        return ScriptedModel(
            [
                assistant(
                    None,
                    [
                        ("set_light", {"room": "kitchen", "on": True}),
                        ("set_thermostat", {"room": "office", "temperature": 45}),
                    ],
                ),
                assistant(None, [("set_thermostat", {"room": "office", "temperature": 30})]),
                assistant(None, [("get_state", {})]),
                assistant("all set"),
            ]
        )

    ours = Agent(script(), home_toolbox(Home())).run("evening")
    theirs = react_langgraph(script(), home_toolbox(Home()), "evening")
    assert tool_call_trace(ours) == tool_call_trace(theirs)
    assert [ok for *_, ok in tool_call_trace(ours)] == [True, False, True, True]
    assert ours.answer == theirs.answer == "all set" and ours.steps == theirs.steps == 4
    for q in [
        "turn on the kitchen light at 150 percent and set the bedroom to 22 degrees",
        "turn on the light",
        "lock the back door",
    ]:
        a = Agent(RuleModel(), home_toolbox(Home(), prefs=Preferences())).run(q)
        b = react_langgraph(RuleModel(), home_toolbox(Home(), prefs=Preferences()), q)
        assert tool_call_trace(a) == tool_call_trace(b) and a.status == b.status


def test_workflow_equals_langgraph_with_checkpoints_and_interrupt():
    from ch19_agents.labs import langgraph_comparison

    result = langgraph_comparison(["lock the back door"])
    assert result["workflow_equal"] and result["agent_traces_equal"]
    assert result["workflow_steps"] == STEPS
