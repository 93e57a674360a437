"""The knowledge base: catalogue, vector index, ingestion, retrieval, query cache, jobs and backup."""
