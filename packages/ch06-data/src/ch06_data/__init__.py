"""Data preparation: crawling, cleaning, MinHash-LSH dedup, quality filters, PII redaction,
contamination checks."""

__version__ = "0.1.0"

from ch06_data.dedup import DedupConfig, DedupReport, dedup_records, dedup_shards
from ch06_data.lsh import candidate_pairs, optimal_params
from ch06_data.minhash import MinHasher
from ch06_data.pii import detect, redact

__all__ = [
    "DedupConfig",
    "DedupReport",
    "MinHasher",
    "candidate_pairs",
    "dedup_records",
    "dedup_shards",
    "detect",
    "optimal_params",
    "redact",
]
