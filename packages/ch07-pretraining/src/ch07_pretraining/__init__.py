"""ch07-pretraining: pretrain a small Llama from zero on CPU, resume exactly, train data-parallel.

Library first: :func:`prepare_corpus` packs a corpus into memory-mapped token files,
:func:`train` runs the loop (AdamW, warm-up + cosine, clipping, accumulation, eval in bits per
byte, atomic checkpoints, spike rollback, DDP / ZeRO-1 under ``torch.distributed``),
:func:`generate` samples from the resulting Hugging Face folder, and :func:`scaling_experiment`
fits a scaling law over several depths.
"""

from ch07_pretraining.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from ch07_pretraining.curriculum import CurriculumConfig, compare_orders
from ch07_pretraining.data import TokenData, prepare_corpus, token_byte_lengths, train_tokenizer
from ch07_pretraining.efficiency import efficiency_table, saved_activation_bytes
from ch07_pretraining.model import PRESETS, build_model, count_parameters, get_preset, llama_config
from ch07_pretraining.sample import generate, load_model
from ch07_pretraining.scaling import PowerLawFit, fit_power_law, scaling_experiment
from ch07_pretraining.train import TrainConfig, evaluate, lr_lambda, resume_config, train

__all__ = [
    "PRESETS",
    "CurriculumConfig",
    "PowerLawFit",
    "TokenData",
    "TrainConfig",
    "build_model",
    "compare_orders",
    "count_parameters",
    "efficiency_table",
    "evaluate",
    "fit_power_law",
    "generate",
    "get_preset",
    "latest_checkpoint",
    "list_checkpoints",
    "llama_config",
    "load_checkpoint",
    "load_model",
    "lr_lambda",
    "prepare_corpus",
    "resume_config",
    "saved_activation_bytes",
    "scaling_experiment",
    "token_byte_lengths",
    "train",
    "train_tokenizer",
]
