"""ch15-architectures: MoE, Mamba, RWKV, sparse attention, hybrids and a small search.

Modules, one idea each (imported on demand, so ``import ch15_architectures`` is cheap):

- :mod:`~ch15_architectures.moe` — top-k router, capacity and dropping, balance and z losses;
- :mod:`~ch15_architectures.mixtral` — a Mixtral LM with ``MixtralForCausalLM``'s weights;
- :mod:`~ch15_architectures.mamba` — sequential, associative and chunked selective scans, Mamba LM;
- :mod:`~ch15_architectures.mamba2` — Mamba-2: scalar decay per head, SSD sequential and chunked,
  Mamba-2 LM;
- :mod:`~ch15_architectures.rwkv` — RWKV-4 in parallel and recurrent form;
- :mod:`~ch15_architectures.linear_attention` — kernelised linear attention, three forms;
- :mod:`~ch15_architectures.attention` — sliding-window, dilated, global+local masks, blocked
  window attention and a peak-memory tracker;
- :mod:`~ch15_architectures.stack` — attention / MoE / SSM / conv block stacks (hybrids);
- :mod:`~ch15_architectures.search` — random and evolutionary search under a FLOP budget;
- :mod:`~ch15_architectures.passkey` — passkey retrieval across architectures;
- :mod:`~ch15_architectures.scaling` — time vs length, fitted exponents, crossover;
- :mod:`~ch15_architectures.parity` — load HF Mamba / Mamba-2 / RWKV / Mixtral folders into ours;
- :mod:`~ch15_architectures.train`, :mod:`~ch15_architectures.labs`,
  :mod:`~ch15_architectures.demo` — training on the bundled stories and the labs.
"""
