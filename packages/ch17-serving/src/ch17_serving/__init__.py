"""Serving: an OpenAI-compatible server (streaming, auth, rate limits, tools, JSON schema), a
resilient client, a LangChain memory chatbot, the meeting-minutes app and deployment manifests.

Modules: :mod:`~ch17_serving.backend` (the model and its token loop),
:mod:`~ch17_serving.constrained`
(JSON-schema constrained decoding), :mod:`~ch17_serving.keys` (hashed keys, rate limits, budgets),
:mod:`~ch17_serving.protocol` (the OpenAI wire format), :mod:`~ch17_serving.server` (the FastAPI
app), :mod:`~ch17_serving.client` (retries, backoff, cost), :mod:`~ch17_serving.memory` (LangChain
memories), :mod:`~ch17_serving.minutes`, :mod:`~ch17_serving.deploy`, :mod:`~ch17_serving.loadtest`,
:mod:`~ch17_serving.webchat` (the web chat page), :mod:`~ch17_serving.vision` (image parts).
Heavy imports happen inside those modules, so ``import ch17_serving`` is cheap.
"""

__version__ = "0.2.0"
