"""Convert musicnn's TF1 checkpoints to the ``.npz`` files shipped in ``models/taggers/weights/``.

Recipe (no TensorFlow needed; the musicnn wheel only provides the checkpoint files)::

    pip install --no-deps musicnn==0.1.0
    python -m musicllm.models.taggers.convert_musicnn src/musicllm/models/taggers/weights

or ``--musicnn-dir DIR`` for an unpacked musicnn package folder (the one holding ``MTT_musicnn/``).

Each ``<model>.npz`` holds the :class:`~musicllm.models.taggers.musicnn.MusicnnNet` state dict as float32
arrays in torch layouts (names as in ``net.state_dict()``), plus ``meta.labels`` (the 50 tags, in output
order), ``meta.source`` and ``meta.license`` (musicnn's ISC licence text, which must accompany copies).
Compressed with ``np.savez_compressed`` and written atomically. Every tensor's CRC32C is checked against
the checkpoint while reading.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from musicllm.errors import MusicLLMError
from musicllm.files import atomic_write_with
from musicllm.models.taggers.musicnn import (
    INSTALL_HINT,
    MODELS,
    MUSICNN_LICENSE_TEXT,
    musicnn_package_dir,
    state_dict_from_tf,
    tf_variable_names,
)
from musicllm.models.taggers.tf_checkpoint import read_tf_checkpoint


def convert_model(musicnn_dir: str | Path, model: str, outdir: str | Path) -> Path:
    """Convert ``<musicnn_dir>/<model>/`` to ``<outdir>/<model>.npz``; returns the written path."""
    if model not in MODELS:
        raise MusicLLMError(f"unknown musicnn model {model!r}; choose from {', '.join(MODELS)}")
    prefix = str(Path(musicnn_dir) / model) + "/"
    state = state_dict_from_tf(read_tf_checkpoint(prefix, tf_variable_names(), verify_crc=True))
    arrays: dict[str, np.ndarray] = dict(state)
    arrays["meta.labels"] = np.array(MODELS[model])
    arrays["meta.source"] = np.array(f"musicnn 0.1.0 {model} TF1 checkpoint, converted by musicllm")
    arrays["meta.license"] = np.array(MUSICNN_LICENSE_TEXT)
    target = Path(outdir) / f"{model}.npz"
    atomic_write_with(target, lambda tmp: np.savez_compressed(tmp, **arrays))  # type: ignore[arg-type]
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicllm.models.taggers.convert_musicnn",
                                     description="Convert musicnn TF checkpoints to .npz (no TensorFlow).")
    parser.add_argument("outdir", help="folder for <model>.npz")
    parser.add_argument("--musicnn-dir", default=None,
                        help="musicnn package folder (default: the installed package, found without importing it)")
    parser.add_argument("--model", action="append", choices=sorted(MODELS),
                        help="model to convert (repeatable; default: all)")
    args = parser.parse_args(argv)
    try:
        src = Path(args.musicnn_dir) if args.musicnn_dir else musicnn_package_dir()
        if src is None:
            raise MusicLLMError(f"musicnn is not installed; `{INSTALL_HINT}` or pass --musicnn-dir")
        for model in args.model or list(MODELS):
            path = convert_model(src, model, args.outdir)
            print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    except MusicLLMError as exc:
        print(f"musicllm: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
