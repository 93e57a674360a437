"""Embeddings for tests and benchmarks that time the index, not the model: a unit vector seeded by the text's
hash, so tens of thousands of chunks load in seconds and the same text always gets the same vector."""

from __future__ import annotations

import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings


class HashEmbeddings(Embeddings):
    def __init__(self, dimension: int):
        self.dimension = dimension
        self.name = f"hash-{dimension}"  # recorded by the index like a real model's name

    def embed_documents(self, texts):
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text):
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).normal(size=self.dimension)
        return (vector / np.linalg.norm(vector)).tolist()
