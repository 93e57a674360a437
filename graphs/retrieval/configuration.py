"""What a run of the retrieval agent may change (prompts, retrieval, model): see `graphs/configuration.py`."""

from __future__ import annotations

from graphs.configuration import BaseConfiguration


class Configuration(BaseConfiguration):
    """The retrieval agent answers one question (with the conversation so far) from the materials."""
