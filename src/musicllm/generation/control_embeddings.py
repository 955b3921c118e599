"""Embedding fallback of prompt parsing: a leftover word -> the nearest (category, label) prototype.

Each word is embedded alone with the shipped all-MiniLM-L6-v2 (:mod:`musicllm.models.text_encoder`)
and compared (cosine) with single prototype words of every mood, tempo word (``slow`` / ``fast``),
tune type and instrument (:func:`~musicllm.generation.control_words.embedding_prototypes`). The nearest
prototype is taken when its similarity is at least :data:`EMBED_MIN_SIM` and beats the best prototype
of any *other* label by :data:`EMBED_MIN_MARGIN`. Both were set by hand on a few dozen words: single
words embed noisily (antonyms such as "bright" / "dark" sit close; "purple" is 0.55 from "dark",
"computer" 0.57 from "piano"), so the bar is high and the rules carry the vocabulary.

The prototype matrix is computed once per process and cached on disk (``$MUSICLLM_CACHE`` or
``~/.cache/musicllm``), keyed by a hash of the words and the model file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from musicllm.generation.control_words import embedding_prototypes

__all__ = ["EMBED_MIN_MARGIN", "EMBED_MIN_SIM", "nearest_labels"]

EMBED_MIN_SIM = 0.60     # cosine similarity a leftover word needs to its nearest prototype
EMBED_MIN_MARGIN = 0.05  # ... and its lead over the best prototype of any other label

_PROTO_LOCK = threading.Lock()
_PROTO: dict[str, Any] = {}


def _cache_dir() -> Path:
    root = os.environ.get("MUSICLLM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "musicllm")
    return Path(root)


def _prototypes():
    """(encoder, labels, matrix) of the prototype words, computed once per process and cached on disk
    (keyed by a hash of the words and the model file)."""
    import numpy as np

    from musicllm.models.text_encoder import default_model_dir, get_encoder

    with _PROTO_LOCK:
        if _PROTO:
            return _PROTO["encoder"], _PROTO["labels"], _PROTO["matrix"]
        protos = embedding_prototypes()
        labels = [label for label, words in protos.items() for _ in words]
        words = [w for ws in protos.values() for w in ws]
        model_dir = default_model_dir()
        encoder = get_encoder(model_dir)
        st = (model_dir / "model.safetensors").stat()
        digest = hashlib.sha256(("\n".join(words) + f"|{model_dir.resolve()}|{st.st_size}|{int(st.st_mtime)}")
                                .encode()).hexdigest()[:20]
        path = _cache_dir() / f"control-prototypes-{digest}.npy"
        matrix = None
        if path.exists():
            try:
                arr = np.load(path)
                if arr.shape == (len(words), encoder.hidden):
                    matrix = arr
            except (OSError, ValueError):
                matrix = None
        if matrix is None:
            matrix = encoder.encode(words, batch_size=256)
            try:
                from musicllm.files import atomic_write_with

                atomic_write_with(path, lambda tmp: np.save(tmp, matrix))
            except OSError:
                pass  # a read-only home only costs the encoding time next run
        _PROTO.update(encoder=encoder, labels=labels, matrix=matrix)
        return encoder, labels, matrix


def nearest_labels(words: list[str]) -> list[tuple[tuple[str, str] | None, float]]:
    """For each word: ((category, label), similarity) of its nearest prototype when it passes
    :data:`EMBED_MIN_SIM` and :data:`EMBED_MIN_MARGIN`, else (None, best similarity)."""
    if not words:
        return []
    encoder, labels, matrix = _prototypes()
    sims = encoder.encode(words) @ matrix.T
    out: list[tuple[tuple[str, str] | None, float]] = []
    for row in sims:
        order = row.argsort()[::-1]
        best = labels[order[0]]
        s1 = float(row[order[0]])
        s2 = next((float(row[j]) for j in order if labels[j] != best), -1.0)
        out.append((best, s1) if s1 >= EMBED_MIN_SIM and s1 - s2 >= EMBED_MIN_MARGIN else (None, s1))
    return out
