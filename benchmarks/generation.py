"""ABC language model benchmark: quality of N generations and decoding speed with / without KV cache.

    python benchmarks/generation.py [--n 4] [--model PATH] [--corpus .cache/abc_lm/corpus.jsonl] [--threads 1]

Generates ``--n`` tunes for each prompt of ``DEFAULT_EVAL_PROMPTS`` (12 meters / keys / lengths, seeds
fixed) with the shipped model, then prints :func:`musicllm.evaluation.generation.evaluate` (parse rate,
bars, control accuracy, music21 checks, novelty against the training split of ``--corpus`` when the
file exists, held-out perplexity) and the speed: body tokens per second of the constrained sampler
with the KV cache, and, as the in-process peer, the same decoding (same seed, hence the same tokens)
rerunning the whole prefix for every token, with the ratio. Torch runs on ``--threads`` threads
(generation sets 1 itself; the peer uses the same).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--model", default=None)
    ap.add_argument("--corpus", default=".cache/abc_lm/corpus.jsonl")
    ap.add_argument("--speed-tunes", type=int, default=4, help="tunes decoded by both speed runs")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import numpy as np
    import torch

    from musicllm.apps.generate_commands import DEFAULT_EVAL_PROMPTS, _requests_for
    from musicllm.evaluation.generation import TrainingIndex, evaluate
    from musicllm.generation.symbolic import _header, request_from_controls, sample_tune
    from musicllm.generation.symbolic import generate as gen_tunes
    from musicllm.models.abc_corpus import load_corpus
    from musicllm.models.abc_lm import heldout_perplexity, load_checkpoint

    torch.set_num_threads(args.threads)
    lm = load_checkpoint(args.model)
    print(f"model: {lm.n_params / 1e6:.2f}M params, vocab {len(lm.vocab)}, "
          f"trained {lm.meta.get('training', {}).get('train_minutes')} min")
    reqs = _requests_for(list(DEFAULT_EVAL_PROMPTS))
    abcs, per_tune, tokens, secs = [], [], 0, 0.0
    t0 = time.perf_counter()
    for k, req in enumerate(reqs):
        for g in gen_tunes(req["prompt"], n=args.n, seed=1000 * k, model=lm):
            abcs.append(g.abc)
            per_tune.append(req)
            tokens += len(g.tokens)
            secs += g.seconds
    wall = time.perf_counter() - t0
    index, report = None, {}
    if Path(args.corpus).is_file():
        tunes = load_corpus(args.corpus)
        index = TrainingIndex.from_token_lists(t.tokens for t in tunes if t.split == "train" and t.shift == 0)
        held = [t.tokens for t in tunes if t.split == "heldout" and t.shift == 0]
        torch.set_num_threads(max(args.threads, 2))
        report.update({f"heldout_{k}": v for k, v in heldout_perplexity(lm.module, lm.vocab, held,
                                                                        seq_len=lm.config.max_len - 1).items()})
        torch.set_num_threads(args.threads)
    report.update(evaluate(abcs, per_tune, index=index))
    report["sampling_tokens_per_second"] = tokens / secs
    report["generate_wall_seconds"] = wall
    print(json.dumps(report, indent=1, default=str))

    # speed: KV cache vs full recomputation, same tokens
    from musicllm.generation.controls import parse_prompt

    c = parse_prompt("a reel in D, 16 bars").controls
    req = request_from_controls(c, lm.vocab)
    torch.set_num_threads(1)
    header = _header(lm, req, np.random.default_rng(0))
    rates = {}
    for use_cache in (True, False):
        n_tok, dt = 0, 0.0
        for s in range(args.speed_tunes):
            body, t = sample_tune(lm, header, target_bars=16, seed=s, use_cache=use_cache)
            n_tok += len(body)
            dt += t
        rates[use_cache] = n_tok / dt
        print(f"{'KV cache' if use_cache else 'no cache'}: {n_tok} tokens in {dt:.2f} s = {n_tok / dt:.0f} tokens/s")
    print(f"ratio cache / no cache: {rates[True] / rates[False]:.2f}x")


if __name__ == "__main__":
    main()
