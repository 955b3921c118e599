"""Tiny random chat checkpoints (Llama architecture, byte-level BPE tokenizer trained here), built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from musicllm.language.backends.debug_model import build_debug_chat_model


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Replies are never empty (special and whitespace-only tokens are suppressed)."""
    return build_debug_chat_model(tmp_path_factory.mktemp("tiny_chat_llama"))


@pytest.fixture(scope="session")
def mute_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Replies are always empty after stripping (only special and whitespace tokens can be emitted)."""
    return build_debug_chat_model(tmp_path_factory.mktemp("mute_chat_llama"), mute=True)
