"""ch12-reasoning: chain-of-thought supervision vs RL on verifiable rewards, process reward
models, tree search and test-time compute scaling, measured on a small model trained here.

Modules (one idea each): :mod:`~ch12_reasoning.problems` (generators and exact solvers),
:mod:`~ch12_reasoning.policy` (the char-level Llama policy and SFT on rationales),
:mod:`~ch12_reasoning.sampling`, :mod:`~ch12_reasoning.voting` (majority vote, pass@k),
:mod:`~ch12_reasoning.prm` (ORM/PRM/value heads), :mod:`~ch12_reasoning.solve` (CoT,
self-consistency, best-of-N), :mod:`~ch12_reasoning.game24` (CoT vs tree-of-thoughts),
:mod:`~ch12_reasoning.grpo` (GRPO), :mod:`~ch12_reasoning.labs` (budget sweeps).
"""

__version__ = "0.2.0"
