"""The shipped all-MiniLM-L6-v2 sentence encoder, in numpy: it lives in :mod:`musicllm.models.text_encoder`
(the layer below both ``language`` and ``generation``, which both use it); re-exported here."""

from musicllm.models.text_encoder import SMALL_BATCH, SentenceEncoder, default_model_dir, get_encoder

__all__ = ["SMALL_BATCH", "SentenceEncoder", "default_model_dir", "get_encoder"]
