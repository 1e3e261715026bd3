"""Data preparation: crawling, cleaning, MinHash-LSH dedup, quality filters, PII redaction,
contamination checks, synthetic data, lineage."""

__version__ = "0.1.0"

from ch06_data.dedup import DedupConfig, DedupReport, dedup_records, dedup_shards
from ch06_data.lineage import verify_lineage, write_lineage
from ch06_data.lsh import candidate_pairs, optimal_params
from ch06_data.minhash import MinHasher
from ch06_data.pii import detect, redact
from ch06_data.synthetic import compare_training_data, quality_funnel, template_documents

__all__ = [
    "DedupConfig",
    "DedupReport",
    "MinHasher",
    "candidate_pairs",
    "compare_training_data",
    "dedup_records",
    "dedup_shards",
    "detect",
    "optimal_params",
    "quality_funnel",
    "redact",
    "template_documents",
    "verify_lineage",
    "write_lineage",
]
