"""Embeddings: word2vec from scratch, MiniLM sentence embeddings, FAISS and from-scratch vector
indexes, a similarity API, CLIP-style product search, contrastive fine-tuning."""

__version__ = "0.1.0"
