"""ch19-agents: function calling checked with BFCL's AST rules, ReAct, planning, durable
workflows with human approval, multi-agent teams and a sandbox.

Modules: :mod:`~ch19_agents.calls` (BFCL-style checker), :mod:`~ch19_agents.tools` (typed
functions → JSON Schema, validation, allow-lists, audit), :mod:`~ch19_agents.smarthome`,
:mod:`~ch19_agents.agent` (ReAct loop, backends), :mod:`~ch19_agents.constrained` (schema-
constrained decoding with the default model), :mod:`~ch19_agents.planning`,
:mod:`~ch19_agents.workflow` (SQLite), :mod:`~ch19_agents.lgraph` (langgraph versions),
:mod:`~ch19_agents.team`, :mod:`~ch19_agents.assistant`, :mod:`~ch19_agents.sandbox`.
"""

from ch19_agents.agent import Agent, OpenAIChat, RuleModel, ScriptedModel
from ch19_agents.calls import check_calls, check_files, score_cases
from ch19_agents.sandbox import Limits, run_code
from ch19_agents.tools import Toolbox, function_schema
from ch19_agents.workflow import Engine, Step, Workflow

__all__ = [
    "Agent",
    "Engine",
    "Limits",
    "OpenAIChat",
    "RuleModel",
    "ScriptedModel",
    "Step",
    "Toolbox",
    "Workflow",
    "check_calls",
    "check_files",
    "function_schema",
    "run_code",
    "score_cases",
]
