"""Recipe: train the ABC language model (:mod:`musicllm.models.abc_lm`).

``python -m musicllm.training.abc_lm --config src/musicllm/training/configs/abc_lm.yaml [--set key=value]``

Steps: encode the corpus once (cached JSON lines, see :mod:`musicllm.models.abc_corpus`), build the
vocabulary, train with AdamW (linear warm-up, cosine decay fitted to ``max_steps`` or to the
``max_minutes`` wall-clock budget, whichever ends first), evaluate loss and perplexity per token on the
5% held-out tunes (original keys only) every ``eval_every`` steps, keep a resumable checkpoint
``<out_dir>/last.pt`` (model, optimiser, step, RNG states) and the log ``<out_dir>/log.jsonl``, and
finally export the fp16 model to ``ship_path`` with the measured metrics in its metadata.

Seeded (``seed``); CPU threads capped by ``threads``; a CUDA device is used when available.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["load_config", "train", "main"]


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """The YAML config with ``key=value`` overrides (``model.d_model=128`` reaches nested keys)."""
    import yaml

    cfg = yaml.safe_load(Path(path).read_text())
    for item in overrides or []:
        key, _, value = item.partition("=")
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(value)
    return cfg


def _apply_dropout(tokens: list[str], rng: random.Random, p: float) -> list[str]:
    out = list(tokens)
    for i, slot in ((0, "origin"), (1, "T")):
        if rng.random() < p:
            out[i] = f"<{slot}:?>"
    return out


def _length_bucketed(seqs: list[list[str]], bs: int, rng: random.Random) -> list[int]:
    """A shuffled epoch order in which each run of ``bs`` indices holds tunes of similar length (less
    padding): shuffle, sort windows of 64 batches by length, then shuffle the batches."""
    order = list(range(len(seqs)))
    rng.shuffle(order)
    window = 64 * bs
    batches = []
    for k in range(0, len(order), window):
        chunk = sorted(order[k:k + window], key=lambda i: len(seqs[i]))
        batches += [chunk[j:j + bs] for j in range(0, len(chunk), bs)]
    rng.shuffle(batches)
    return [i for b in batches for i in b]


def train(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the recipe; returns the final metrics (also written to ``<out_dir>/metrics.json``)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    from musicllm.files import atomic_write_text
    from musicllm.models.abc_corpus import build_corpus, load_corpus
    from musicllm.models.abc_lm import (
        AbcLMConfig,
        batch_tensors,
        build_model,
        heldout_perplexity,
        save_checkpoint,
    )
    from musicllm.models.abc_tokenizer import BOS, EOS, PAD, AbcVocab

    torch.set_num_threads(int(cfg.get("threads", 2)))
    seed = int(cfg.get("seed", 0))
    random.seed(seed)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus_path = Path(cfg["corpus_path"])
    if not corpus_path.is_file():
        print(f"encoding the corpus to {corpus_path}", file=sys.stderr)
        build_corpus(corpus_path, extra_dirs=cfg.get("extra_corpus_dirs") or [], n_shifts=int(cfg.get("n_shifts", 1)),
                     seed=seed, workers=int(cfg.get("threads", 2)))
    tunes = load_corpus(corpus_path)
    train_seqs = [t.tokens for t in tunes if t.split == "train"]
    held = [t.tokens for t in tunes if t.split == "heldout" and t.shift == 0]
    held_eval = held[: int(cfg.get("eval_max_tunes", 400))]
    last = out_dir / "last.pt"
    state = torch.load(last, map_location="cpu", weights_only=False) if last.is_file() else None
    vocab = AbcVocab(state["vocab"]) if state else AbcVocab.build([t.tokens for t in tunes])
    mcfg = AbcLMConfig(vocab_size=len(vocab), **cfg.get("model", {}))
    model = build_model(mcfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": float(cfg.get("weight_decay", 0.1))},
                             {"params": no_decay, "weight_decay": 0.0}], lr=float(cfg["lr"]), betas=(0.9, 0.95))
    step, elapsed, total_steps = 0, 0.0, int(cfg["max_steps"])
    rng = random.Random(seed)
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, elapsed, total_steps = state["step"], state["elapsed_s"], state["total_steps"]
        rng.setstate(state["py_rng"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min)", file=sys.stderr)
    print(f"{len(train_seqs)} training sequences, {len(held)} held-out tunes, vocab {len(vocab)}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, device {device}", file=sys.stderr)
    pad = vocab.index[PAD]
    bs, seq_len = int(cfg["batch_size"]), int(cfg["seq_len"])
    warm, base_lr = int(cfg.get("warmup_steps", 100)), float(cfg["lr"])
    budget_s = float(cfg.get("max_minutes", 1e9)) * 60
    p_drop = float(cfg.get("control_dropout", 0.1))
    order: list[int] = []
    log = (out_dir / "log.jsonl").open("a")
    model.train()
    t_start = time.time() - elapsed
    fitted = state is not None
    metrics: dict[str, Any] = {}

    def save() -> None:
        blob = {"vocab": vocab.tokens, "model": model.state_dict(), "optim": opt.state_dict(), "step": step,
                "elapsed_s": time.time() - t_start, "total_steps": total_steps, "py_rng": rng.getstate(),
                "torch_rng": torch.get_rng_state()}
        tmp = last.with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(last)

    while step < total_steps:
        if not order:
            order = _length_bucketed(train_seqs, bs, rng)
        idx, order = order[:bs], order[bs:]
        seqs = [vocab.encode([BOS, *_apply_dropout(train_seqs[i], rng, p_drop), EOS]) for i in idx]
        x, y = batch_tensors(seqs, seq_len, pad, device)
        lr = base_lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))
        for g in opt.param_groups:
            g["lr"] = max(lr, base_lr * 0.05)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=pad)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        now = time.time() - t_start
        if not fitted and step == 20:
            per_step = now / 20
            total_steps = max(step + 1, min(total_steps, int(budget_s / per_step * 0.97)))
            fitted = True
            print(f"{per_step:.2f} s/step -> {total_steps} steps in the budget", file=sys.stderr)
        if step % 10 == 0:
            print(f"step {step}/{total_steps} loss {loss.item():.3f} lr {lr:.2e} {now / 60:.1f} min", file=sys.stderr)
        if step % int(cfg.get("eval_every", 100)) == 0 or step >= total_steps or now > budget_s:
            if budget_s < 1e9 and step < total_steps:  # refit the schedule to the measured speed
                total_steps = max(step + 1, min(int(cfg["max_steps"]), int(step * budget_s * 0.98 / now)))
            metrics = heldout_perplexity(model, vocab, held_eval, seq_len=seq_len, device=device)
            rec = {"step": step, "train_loss": loss.item(), "minutes": now / 60, **metrics}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), file=sys.stderr)
            save()
        if now > budget_s:
            break
    train_minutes = (time.time() - t_start) / 60
    final = heldout_perplexity(model, vocab, held, seq_len=seq_len, device=device)
    result = {"steps": step, "train_minutes": round(train_minutes, 1), "device": device,
              "train_sequences": len(train_seqs), "heldout_tunes": len(held),
              "heldout_nll_per_token": round(final["nll_per_token"], 4),
              "heldout_perplexity": round(final["perplexity"], 3), "heldout_tokens": final["tokens"],
              "params": sum(p.numel() for p in model.parameters()), "config": cfg}
    atomic_write_text(out_dir / "metrics.json", json.dumps(result, indent=2) + "\n")
    if cfg.get("ship_path"):
        model.eval()
        save_checkpoint(cfg["ship_path"], model, vocab, half=True, extra={"training": result})
        print(f"wrote {cfg['ship_path']}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    result = train(load_config(args.config, args.set))
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
