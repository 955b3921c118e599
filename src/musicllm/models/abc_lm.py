"""A small decoder-only transformer over ABC tokens (:mod:`musicllm.models.abc_tokenizer`).

GPT-style: token + learned position embeddings, pre-LayerNorm blocks (causal self-attention through
``scaled_dot_product_attention``, GELU MLP), final LayerNorm, output projection tied to the token
embedding. :meth:`AbcLM.step` runs new tokens against a per-layer key/value cache, so generating a
token costs one position, not the whole prefix.

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) are one ``torch.save`` file holding the
config, the vocabulary and the weights (fp16 when shipped, fp32 while training), plus free metadata.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from musicllm.errors import MusicLLMError
from musicllm.models.abc_tokenizer import AbcVocab

__all__ = ["AbcLMConfig", "AbcLM", "KVCache", "build_model", "save_checkpoint", "load_checkpoint",
           "shipped_checkpoint", "batch_tensors", "heldout_perplexity", "debug_vocab", "debug_model", "IncrementalDecoder"]

_SHIPPED = Path(__file__).parent / "weights" / "abc_lm.pt"


def shipped_checkpoint() -> Path:
    """Where the shipped checkpoint lives inside the package."""
    return _SHIPPED


@dataclass
class AbcLMConfig:
    vocab_size: int
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 1024
    max_len: int = 512
    dropout: float = 0.1


KVCache = list  # per layer: (keys, values), each (batch, heads, positions, head_dim)


def _modules():
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cfg: AbcLMConfig):
            super().__init__()
            self.n_heads = cfg.n_heads
            self.ln1 = nn.LayerNorm(cfg.d_model)
            self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
            self.proj = nn.Linear(cfg.d_model, cfg.d_model)
            self.ln2 = nn.LayerNorm(cfg.d_model)
            self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
            self.out = nn.Linear(cfg.d_ff, cfg.d_model)
            self.drop = nn.Dropout(cfg.dropout)
            self.p_drop = cfg.dropout

        def forward(self, x, past=None):
            b, t, d = x.shape
            h = self.n_heads
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            if past is not None:
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
            if past is None:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                   dropout_p=self.p_drop if self.training else 0.0)
            elif t == 1:
                a = F.scaled_dot_product_attention(q, k, v)
            else:
                s = k.shape[2]
                mask = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(s - t)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            a = a.transpose(1, 2).reshape(b, t, d)
            x = x + self.drop(self.proj(a))
            x = x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))
            return x, (k, v)

    class Model(nn.Module):
        def __init__(self, cfg: AbcLMConfig):
            super().__init__()
            self.cfg = cfg
            self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
            self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
            self.ln = nn.LayerNorm(cfg.d_model)
            self.drop = nn.Dropout(cfg.dropout)
            self.apply(self._init)

        @staticmethod
        def _init(m):
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

        def forward(self, ids):
            """Logits (batch, time, vocab) for token ids (batch, time), no cache."""
            logits, _ = self.step(ids, None)
            return logits

        def step(self, ids, cache: KVCache | None):
            """Logits for ``ids`` following the cached positions; returns ``(logits, new_cache)``."""
            start = 0 if not cache else cache[0][0].shape[2]
            t = ids.shape[1]
            if start + t > self.cfg.max_len:
                raise ValueError(f"sequence of {start + t} tokens exceeds max_len {self.cfg.max_len}")
            pos = torch.arange(start, start + t, device=ids.device)
            x = self.drop(self.tok(ids) + self.pos(pos)[None])
            new_cache = []
            for i, blk in enumerate(self.blocks):
                x, kv = blk(x, cache[i] if cache else None)
                new_cache.append(kv)
            x = self.ln(x)
            return x @ self.tok.weight.T, new_cache

    return Model


def build_model(cfg: AbcLMConfig):
    """A freshly initialised :class:`AbcLM` (a ``torch.nn.Module``)."""
    return _modules()(cfg)


class AbcLM:
    """A loaded model with its vocabulary: ``module`` (torch, eval mode), ``vocab``, ``config``, ``meta``."""

    def __init__(self, module, vocab: AbcVocab, config: AbcLMConfig, meta: dict[str, Any] | None = None):
        self.module = module
        self.vocab = vocab
        self.config = config
        self.meta = meta or {}

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


def save_checkpoint(path: str | os.PathLike, module, vocab: AbcVocab, *, half: bool = False,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write config + vocab + weights (+ ``extra``) atomically; ``half`` stores fp16 weights."""
    import torch

    from musicllm.files import atomic_write_with

    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
             for k, v in module.state_dict().items()}
    blob = {"format": "musicllm-abc-lm/1", "config": asdict(module.cfg), "vocab": vocab.tokens,
            "state_dict": state, **(extra or {})}
    return atomic_write_with(path, lambda tmp: torch.save(blob, tmp))


def load_checkpoint(path: str | os.PathLike | None = None, *, device: str = "cpu") -> AbcLM:
    """Load a checkpoint (the shipped one by default) as an fp32 model in eval mode."""
    import torch

    p = Path(path) if path is not None else _SHIPPED
    if not p.is_file():
        raise MusicLLMError(f"no ABC language model checkpoint at {p}; train one with "
                            "'python -m musicllm.training.abc_lm --config src/musicllm/training/configs/abc_lm.yaml'")
    try:
        blob = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise MusicLLMError(f"cannot read ABC language model checkpoint {p}: {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != "musicllm-abc-lm/1":
        raise MusicLLMError(f"{p} is not a musicllm ABC language model checkpoint")
    cfg = AbcLMConfig(**blob["config"])
    module = build_model(cfg)
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    module.to(device).eval()
    meta = {k: v for k, v in blob.items() if k not in ("config", "vocab", "state_dict")}
    return AbcLM(module, AbcVocab(list(blob["vocab"])), cfg, meta)


def batch_tensors(seqs: list[list[int]], seq_len: int, pad: int, device: str = "cpu"):
    """Inputs and next-token targets (batch, time), padded with ``pad``, cut to ``seq_len``."""
    import torch

    n = min(seq_len + 1, max(len(s) for s in seqs))
    x = torch.full((len(seqs), n), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[:n]
        x[i, :len(s)] = torch.tensor(s)
    x = x.to(device)
    return x[:, :-1], x[:, 1:]


def heldout_perplexity(module, vocab, sequences: list[list[str]], *, seq_len: int = 384, batch_size: int = 16,
                       device: str = "cpu") -> dict[str, float]:
    """Mean negative log-likelihood per predicted token (nats) and its exp on ``sequences`` (each a
    header + body token list; ``<bos>``/``<eos>`` added, truncated to ``seq_len`` + 1 tokens). Header
    tokens are predicted too, so this is the perplexity of whole tunes, controls included."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    from musicllm.models.abc_tokenizer import BOS, EOS, PAD

    pad = vocab.index[PAD]
    ids = [vocab.encode([BOS, *s, EOS]) for s in sequences]
    total, count = 0.0, 0
    was_training = module.training
    module.eval()
    with torch.no_grad():
        for k in range(0, len(ids), batch_size):
            x, y = batch_tensors(ids[k:k + batch_size], seq_len, pad, device)
            logits = module(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1),
                                   ignore_index=pad, reduction="sum")
            total += float(loss)
            count += int((y != pad).sum())
    module.train(was_training)
    nll = total / max(count, 1)
    return {"nll_per_token": nll, "perplexity": math.exp(nll), "tokens": count, "tunes": len(ids)}


DEBUG_METERS = ("2/2", "2/4", "3/4", "4/4", "3/8", "6/8", "9/8", "12/8")


def debug_vocab() -> AbcVocab:
    """A complete small vocabulary without data (for tests and debugging): meters
    :data:`DEBUG_METERS`, unit lengths 1/16..1/4, every key with -6..6 fifths in major, minor, dorian
    and mixolydian, pitches C, .. c' with every accidental, common durations. No 5/4 or 7/8."""
    from musicllm.data.corpora import key_from_fifths
    from musicllm.models.abc_tokenizer import BAR_BUCKETS, BODY_FIXED, SPECIALS, key_token

    head = ["<origin:?>", "<origin:oneills1850>", "<origin:ryansMammoth>", "<origin:airdsAirs>"]
    head += [f"<T:{t}>" for t in ("?", "jig", "reel", "waltz", "polka", "hornpipe", "slip jig")]
    head += [f"<M:{m}>" for m in DEBUG_METERS] + [f"<L:1/{d}>" for d in (4, 8, 16)]
    for mode in ("major", "minor", "dorian", "mixolydian"):
        for fifths in range(-6, 7):
            k = key_from_fifths(fifths, mode)
            head.append(key_token(k.tonic, mode))
    head += [f"<bars:{b}>" for b in BAR_BUCKETS]
    pitches = [acc + p for p in ("C,", "D,", "E,", "F,", "G,", "A,", "B,", *"CDEFGABcdefgab", "c'", "d'", "e'")
               for acc in ("", "^", "_", "=")]
    durs = ["2", "3", "4", "6", "8", "/2", "/4", "3/2", "3/4"]
    tokens = list(SPECIALS) + list(BODY_FIXED)
    for t in head + pitches + durs:
        if t not in tokens:
            tokens.append(t)
    return AbcVocab(tokens)


def debug_model(seed: int = 0, *, d_model: int = 32, n_layers: int = 2, max_len: int = 512) -> AbcLM:
    """A tiny randomly initialised model over :func:`debug_vocab` (tests build it in well under a second)."""
    import torch

    torch.manual_seed(seed)
    vocab = debug_vocab()
    cfg = AbcLMConfig(vocab_size=len(vocab), d_model=d_model, n_layers=n_layers, n_heads=2, d_ff=2 * d_model,
                      max_len=max_len, dropout=0.0)
    return AbcLM(build_model(cfg).eval(), vocab, cfg, {"debug": True})


class IncrementalDecoder:
    """Fast one-sequence decoding for :class:`AbcLM`: preallocated key/value buffers (no concatenation),
    weights gathered once, plain tensor functions instead of module calls. ``feed(ids)`` appends tokens
    and returns the logits (vocab,) after the last one; equal to the module's output (tested)."""

    def __init__(self, lm: AbcLM):
        import torch

        m = lm.module
        self.cfg = lm.config
        self.h = self.cfg.n_heads
        self.hd = self.cfg.d_model // self.h
        self.tok, self.pos = m.tok.weight.detach(), m.pos.weight.detach()
        self.layers = [tuple(t.detach() for t in (b.ln1.weight, b.ln1.bias, b.qkv.weight, b.qkv.bias, b.proj.weight,
                                                  b.proj.bias, b.ln2.weight, b.ln2.bias, b.fc.weight, b.fc.bias,
                                                  b.out.weight, b.out.bias)) for b in m.blocks]
        self.ln = (m.ln.weight.detach(), m.ln.bias.detach())
        shape = (self.cfg.n_layers, 2, 1, self.h, self.cfg.max_len, self.hd)
        self.kv = torch.zeros(shape, dtype=self.tok.dtype)
        self.t = 0

    def feed(self, ids: list[int]):
        import torch
        import torch.nn.functional as F  # noqa: N812

        d, h, hd = self.cfg.d_model, self.h, self.hd
        n = len(ids)
        t0, t1 = self.t, self.t + n
        if t1 > self.cfg.max_len:
            raise ValueError(f"sequence of {t1} tokens exceeds max_len {self.cfg.max_len}")
        shape = (d,)
        with torch.inference_mode():
            x = (self.tok[ids] + self.pos[t0:t1]).unsqueeze(0)
            mask = torch.ones(n, t1, dtype=torch.bool).tril(t0) if n > 1 else None
            for i, (w1, b1, wqkv, bqkv, wp, bp, w2, b2, wfc, bfc, wo, bo) in enumerate(self.layers):
                qkv = F.linear(F.layer_norm(x, shape, w1, b1), wqkv, bqkv).view(n, 3, h, hd).permute(1, 2, 0, 3)
                self.kv[i, :, 0, :, t0:t1] = qkv[1:]
                kv = self.kv[i, :, :, :, :t1]
                a = F.scaled_dot_product_attention(qkv[0].unsqueeze(0), kv[0], kv[1], attn_mask=mask)
                x = x + F.linear(a.transpose(1, 2).reshape(1, n, d), wp, bp)
                x = x + F.linear(F.gelu(F.linear(F.layer_norm(x, shape, w2, b2), wfc, bfc)), wo, bo)
            logits = F.linear(F.layer_norm(x[0, -1], shape, *self.ln), self.tok)
        self.t = t1
        return logits
