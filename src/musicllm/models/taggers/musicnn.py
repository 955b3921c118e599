"""musicnn (Pons & Serra, 2019) in torch: the MTT_musicnn and MSD_musicnn auto-taggers, no TensorFlow.

A port of ``musicnn`` 0.1.0 (ISC licence, Jordi Pons): ``musicnn/models.py`` (``build_musicnn``) and the
input pipeline of ``musicnn/extractor.py``. The weights are musicnn's own, read from its TF1 checkpoints
by :mod:`musicllm.models.taggers.tf_checkpoint` and shipped converted as ``weights/<model>.npz``.

Input pipeline (``extractor.batch_data``), reproduced exactly:

- mono audio at :data:`SR` = 16 000 Hz (``librosa.load``'s resampler, soxr "HQ");
- power mel spectrogram, ``librosa.feature.melspectrogram`` defaults otherwise: :data:`N_FFT` = 512
  (32 ms Hann window, centred, zero-padded edges), :data:`HOP` = 256 samples (16 ms), :data:`N_MELS` = 96
  Slaney mel bands up to 8 kHz. Written here in numpy (librosa's formulas) because importing librosa's
  feature module costs 2-4 s; the tests check it against librosa;
- rounded to float16 (musicnn trained on float16 spectrograms), then ``log10(10000 * mel + 1)`` in
  float32 (NumPy 1.x promotes ``float16 * 10000`` to float32; under NumPy 2 the unchanged original
  overflows in float16, which is the "silently changed tags" trap). Mel values above float16's
  maximum (65504, far beyond any real recording) are clipped instead of becoming infinite;
- patches of :data:`PATCH_FRAMES` = 187 frames (``time_to_frames(3 s) + 1``: 2.992 s), taken every 187
  frames (musicnn's default ``input_overlap=False``: no overlap); a last partial patch is dropped.
  Audio shorter than one patch is tiled (repeated) to fill it (musicnn's training "repeat-pad"; the
  original extractor fails on such audio);
- tags per patch are sigmoid outputs; a clip's tags are the mean over patches (``tagger.top_tags``).

Network (``build_musicnn``, batch norm in inference mode, epsilon 0.001, TF's defaults):

- front end on the batch-normalised log-mel patch ``[time, 96 mel]``: timbral convolutions 7x38 and
  7x67 (time x mel; 204 filters each, time padded 3+3, valid over mel) and temporal convolutions
  128x1, 64x1, 32x1 (51 filters each, TF "same" padding in time); each conv -> ReLU -> batch norm ->
  max over the mel axis; concatenated to 561 features per frame;
- mid end: three 1-D convolutions over time (7 taps, 64 filters, zero padding 3+3), ReLU, batch norm,
  the 2nd and 3rd with residual connections; front- and mid-end features concatenated (753 per frame);
- back end: max and mean over time, interleaved (``[max_0, mean_0, max_1, ...]``, 1506 values), batch
  norm, dense 200 + ReLU, batch norm, dense 50 (logits; dropout is inactive at inference).

:meth:`MusicnnNet.forward` (``fast=True``) runs the front-end convolutions without bias and applies
bias, ReLU and batch norm after the max over mel bands, to ``[B, C, T]`` instead of ``[B, C, T, mel]``
maps (exact, since those steps are monotone per channel: see :func:`_relu_bn_freqmax`); ``fast=False``
is the literal transcription, kept as the reference. The convolutions dominate the cost either way
(about 1.4 GMAC per patch, 28 per minute of audio), so the difference is small on CPU.
Both agree with TensorFlow to float32 round-off (tag probabilities within 4e-6 on the test clips).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicllm.errors import MissingDependencyError, MusicLLMError

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames per patch: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``.
PATCH_FRAMES = 187
#: Seconds covered by one patch's frames (187 x 256 / 16000).
PATCH_SECONDS = PATCH_FRAMES * HOP / SR
BN_EPS = 1e-3
FLOAT16_MAX = 65504.0

MTT_LABELS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal",
    "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice",
    "choral",
)
MSD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)
#: Models this port implements -> their 50 labels (musicnn's ``configuration.py``).
MODELS: dict[str, tuple[str, ...]] = {"MTT_musicnn": MTT_LABELS, "MSD_musicnn": MSD_LABELS}
INSTALL_HINT = "pip install --no-deps musicnn==0.1.0"
MUSICNN_LICENSE = ("ISC licence. musicnn 0.1.0: Copyright (c) Music Technology Group, Universitat Pompeu "
                   "Fabra 2019. Code developed by Jordi Pons (www.jordipons.me).")
#: musicnn's LICENSE.md, verbatim: ISC requires it to accompany copies (it is stored in the .npz files).
MUSICNN_LICENSE_TEXT = (
    "Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code developed by Jordi Pons "
    "(www.jordipons.me).\n\n"
    "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee "
    "is hereby granted, provided that the above copyright notice and this permission notice appear in all "
    "copies.\n\n"
    "THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE "
    "INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE "
    "FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM "
    "LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, "
    "ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.\n"
)


# ---------------------------------------------------------------- input pipeline


def to_model_rate(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at :data:`SR`, as ``librosa.load(..., sr=16000)`` makes it.

    ``y`` is ``[samples]`` or ``[channels, samples]`` (librosa's layout; channels are averaged).
    Resampling is librosa's default ``soxr_hq`` (soxr "HQ") called directly, then trimmed or
    zero-padded to ``ceil(n * 16000 / sr)`` samples as ``librosa.resample`` does; librosa itself is
    not imported (its import costs seconds).
    """
    import soxr

    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = np.mean(y, axis=0, dtype=np.float32)
    if y.ndim != 1:
        raise MusicLLMError(f"audio array must be 1-D or [channels, samples], got shape {list(y.shape)}")
    if int(sr) != SR:
        n_out = int(np.ceil(len(y) * float(SR) / int(sr)))
        z = np.asarray(soxr.resample(y, int(sr), SR, quality="soxr_hq"), dtype=np.float32)
        y = z[:n_out] if len(z) >= n_out else np.pad(z, (0, n_out - len(z)))
    return np.ascontiguousarray(y, dtype=np.float32)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, log above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), (200.0 / 3) * m)


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """``[96, 257]`` float32 Slaney-normalised mel filters, 0-8000 Hz: ``librosa.filters.mel(sr=16000,
    n_fft=512, n_mels=96)`` (same formula, written out so that librosa need not be imported)."""
    fft_freqs = np.fft.rfftfreq(N_FFT, d=1.0 / SR)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SR / 2.0)), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((N_MELS, len(fft_freqs)), dtype=np.float32)
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights


def mel_power(y16k: np.ndarray) -> np.ndarray:
    """``[frames, 96]`` float32 power mel spectrogram, as ``librosa.feature.melspectrogram(y, sr=16000,
    n_fft=512, hop_length=256, n_mels=96)`` computes it: periodic Hann window, centred frames
    (256 zeros of padding at each end), FFT in float64 stored as complex64, ``|X|^2`` in float32."""
    y = np.asarray(y16k, dtype=np.float32)
    n_frames = 1 + len(y) // HOP
    padded = np.pad(y, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # float64, like scipy's
    spec = np.fft.rfft(frames * window, axis=1).astype(np.complex64)
    power = np.abs(spec) ** 2
    return power @ mel_filterbank().T


def log_mel(y16k: np.ndarray) -> np.ndarray:
    """musicnn's input representation ``[frames, 96]`` float32 of 16 kHz mono audio (see module doc)."""
    mel = mel_power(y16k)
    mel16 = np.minimum(mel, FLOAT16_MAX).astype(np.float16)
    return np.log10(np.float32(10000) * mel16.astype(np.float32) + np.float32(1)).astype(np.float32)


def patch_starts(n_frames: int, hop_frames: int = PATCH_FRAMES) -> list[int]:
    """First frame of each patch: ``range(0, n_frames - 187 + 1, hop_frames)``; ``[0]`` if too short."""
    if hop_frames < 1:
        raise MusicLLMError(f"patch hop must be at least 1 frame, got {hop_frames}")
    return list(range(0, n_frames - PATCH_FRAMES + 1, hop_frames)) or [0]


def make_patches(spec: np.ndarray, hop_frames: int = PATCH_FRAMES) -> np.ndarray:
    """``[n_patches, 187, 96]`` patches of a ``[frames, 96]`` spectrogram (short input tiled)."""
    if spec.ndim != 2 or spec.shape[1] != N_MELS or spec.shape[0] == 0:
        raise MusicLLMError(f"expected a [frames, {N_MELS}] spectrogram, got shape {list(spec.shape)}")
    if spec.shape[0] < PATCH_FRAMES:
        reps = -(-PATCH_FRAMES // spec.shape[0])
        spec = np.tile(spec, (reps, 1))[:PATCH_FRAMES]
    starts = patch_starts(spec.shape[0], hop_frames)
    return np.stack([spec[s:s + PATCH_FRAMES] for s in starts]).astype(np.float32, copy=False)


# ---------------------------------------------------------------- network


def _bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference batch norm as ``scale * x + shift`` per channel."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _relu_bn_freqmax(ymax: torch.Tensor, ymin: torch.Tensor, bias: torch.Tensor,
                     bn: nn.BatchNorm2d) -> torch.Tensor:
    """``max_f BN(ReLU(y + bias))`` from ``max_f y`` and ``min_f y`` (``[B, C, T]``), exactly.

    ReLU and adding a bias are monotone, and BN is ``scale * x + shift``: the maximum over mel bands
    comes from the largest pre-activation where ``scale >= 0`` and from the smallest where it is < 0.
    """
    scale, shift = _bn_affine(bn)
    s, b = scale[None, :, None], shift[None, :, None]
    hi = torch.relu(ymax + bias[None, :, None]) * s + b
    lo = torch.relu(ymin + bias[None, :, None]) * s + b
    return torch.where(s >= 0, hi, lo)


class MusicnnNet(nn.Module):
    """``build_musicnn`` (musicnn/models.py) for 50 tags; input ``[B, 187, 96]`` log-mel, output logits.

    The net accepts any number of frames >= 1 (musicnn's models are fully convolutional up to the
    temporal pooling), though the weights were trained on 187-frame (3 s) patches.
    """

    def __init__(self, num_classes: int = 50, num_filt_frontend: float = 1.6, num_filt_midend: int = 64,
                 num_units_backend: int = 200, n_mels: int = N_MELS) -> None:
        super().__init__()
        self.n_mels = n_mels
        nt = int(num_filt_frontend * 128)  # 204 timbral filters
        ns = int(num_filt_frontend * 32)   # 51 temporal filters
        self.timbral_widths = (int(0.4 * n_mels), int(0.7 * n_mels))  # 38, 67 mel bands
        self.temporal_lengths = (128, 64, 32)
        self.bn_input = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral = nn.ModuleList(nn.Conv2d(1, nt, (7, w)) for w in self.timbral_widths)
        self.timbral_bn = nn.ModuleList(nn.BatchNorm2d(nt, eps=BN_EPS) for _ in self.timbral_widths)
        self.temporal = nn.ModuleList(nn.Conv2d(1, ns, (k, 1)) for k in self.temporal_lengths)
        self.temporal_bn = nn.ModuleList(nn.BatchNorm2d(ns, eps=BN_EPS) for _ in self.temporal_lengths)
        front = len(self.timbral_widths) * nt + len(self.temporal_lengths) * ns  # 561
        self.mid = nn.ModuleList([nn.Conv1d(front, num_filt_midend, 7, padding=3),
                                  nn.Conv1d(num_filt_midend, num_filt_midend, 7, padding=3),
                                  nn.Conv1d(num_filt_midend, num_filt_midend, 7, padding=3)])
        self.mid_bn = nn.ModuleList(nn.BatchNorm1d(num_filt_midend, eps=BN_EPS) for _ in range(3))
        pooled = 2 * (front + 3 * num_filt_midend)  # 1506
        self.bn_pool = nn.BatchNorm1d(pooled, eps=BN_EPS)
        self.dense = nn.Linear(pooled, num_units_backend)
        self.bn_dense = nn.BatchNorm1d(num_units_backend, eps=BN_EPS)
        self.out = nn.Linear(num_units_backend, num_classes)
        self.eval()

    # -- front end, direct (reference) path
    def _frontend_direct(self, xb: torch.Tensor) -> torch.Tensor:
        x4 = xb[:, None]  # [B, 1, T, F]
        feats = []
        for conv, bn in zip(self.timbral, self.timbral_bn, strict=True):
            y = bn(torch.relu(conv(F.pad(x4, (0, 0, 3, 3)))))
            feats.append(y.amax(dim=3))
        for conv, bn, k in zip(self.temporal, self.temporal_bn, self.temporal_lengths, strict=True):
            before = (k - 1) // 2  # TF "same": the extra padding goes after
            y = bn(torch.relu(conv(F.pad(x4, (0, 0, before, k - 1 - before)))))
            feats.append(y.amax(dim=3))
        return torch.cat(feats, dim=1)  # [B, 561, T]

    # -- front end, fast path
    def _frontend_fast(self, xb: torch.Tensor) -> torch.Tensor:
        """Same values as :meth:`_frontend_direct`: the convolutions without bias, then the min and max
        over mel bands; bias, ReLU and batch norm are applied to the ``[B, C, T]`` extremes only (see
        :func:`_relu_bn_freqmax`) instead of to the full ``[B, C, T, mel]`` maps."""
        x4 = xb[:, None]  # [B, 1, T, F]
        xt = F.pad(x4, (0, 0, 3, 3))
        feats = []
        for conv, bn in zip(self.timbral, self.timbral_bn, strict=True):
            y = F.conv2d(xt, conv.weight)
            feats.append(_relu_bn_freqmax(y.amax(dim=3), y.amin(dim=3), conv.bias, bn))
        longest = max(self.temporal_lengths)
        lead = (longest - 1) // 2
        xs = F.pad(x4, (0, 0, lead, longest - 1 - lead))
        t = xb.shape[1]
        for conv, bn, k in zip(self.temporal, self.temporal_bn, self.temporal_lengths, strict=True):
            start = lead - (k - 1) // 2  # TF "same" alignment inside the longest padding
            y = F.conv2d(xs[:, :, start:start + t + k - 1], conv.weight)
            feats.append(_relu_bn_freqmax(y.amax(dim=3), y.amin(dim=3), conv.bias, bn))
        return torch.cat(feats, dim=1)  # [B, 561, T]

    def features(self, x: torch.Tensor, fast: bool = True) -> dict[str, torch.Tensor]:
        """Intermediate representations as musicnn's extractor names them (``timbral``, ``temporal``,
        ``cnn1``..``cnn3`` as ``[B, T, C]``; ``mean_pool``, ``max_pool``, ``penultimate``, ``logits``)."""
        if x.ndim != 3 or x.shape[2] != self.n_mels:
            raise MusicLLMError(f"musicnn input must be [batch, frames, {self.n_mels}], got {list(x.shape)}")
        scale, shift = _bn_affine(self.bn_input)
        xb = x * scale + shift
        front = self._frontend_fast(xb) if fast else self._frontend_direct(xb)
        h1 = self.mid_bn[0](torch.relu(self.mid[0](front)))
        h2 = self.mid_bn[1](torch.relu(self.mid[1](h1))) + h1
        h3 = self.mid_bn[2](torch.relu(self.mid[2](h2))) + h2
        mid = torch.cat([front, h1, h2, h3], dim=1)  # [B, 753, T]
        max_pool, mean_pool = mid.amax(dim=2), mid.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF concat on a trailing axis
        penultimate = self.bn_dense(torch.relu(self.dense(self.bn_pool(pooled))))
        nt = self.timbral[0].out_channels
        return {
            "timbral": front[:, : 2 * nt].transpose(1, 2), "temporal": front[:, 2 * nt:].transpose(1, 2),
            "cnn1": h1.transpose(1, 2), "cnn2": h2.transpose(1, 2), "cnn3": h3.transpose(1, 2),
            "mean_pool": mean_pool, "max_pool": max_pool, "penultimate": penultimate,
            "logits": self.out(penultimate),
        }

    def forward(self, x: torch.Tensor, fast: bool = True) -> torch.Tensor:
        """Logits ``[B, num_classes]`` for log-mel patches ``[B, frames, n_mels]``."""
        return self.features(x, fast=fast)["logits"]


# ---------------------------------------------------------------- TF checkpoint -> torch names

#: musicnn's TF layer names (creation order in ``build_musicnn``) -> this module's names.
_BN_NAMES = ["bn_input", "timbral_bn.0", "timbral_bn.1", "temporal_bn.0", "temporal_bn.1", "temporal_bn.2",
             "mid_bn.0", "mid_bn.1", "mid_bn.2", "bn_pool", "bn_dense"]
_CONV_NAMES = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2", "mid.0", "mid.1", "mid.2"]
_DENSE_NAMES = ["dense", "out"]


def _tf_scope(kind: str, i: int) -> str:
    return kind if i == 0 else f"{kind}_{i}"


def tf_variable_names() -> list[str]:
    """The TF variables :func:`state_dict_from_tf` needs (no optimizer slots)."""
    names = []
    for i in range(len(_BN_NAMES)):
        s = _tf_scope("batch_normalization", i)
        names += [f"{s}/gamma", f"{s}/beta", f"{s}/moving_mean", f"{s}/moving_variance"]
    for kind, count in (("conv2d", len(_CONV_NAMES)), ("dense", len(_DENSE_NAMES))):
        for i in range(count):
            names += [f"{_tf_scope(kind, i)}/kernel", f"{_tf_scope(kind, i)}/bias"]
    return names


def state_dict_from_tf(tf_vars: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """musicnn TF variables -> :class:`MusicnnNet` state dict (numpy float32 arrays, torch layouts).

    TF conv2d kernels ``[kh, kw, in, out]`` become ``[out, in, kh, kw]``; the mid-end convolutions,
    whose "width" spans all input features, become Conv1d weights ``[out, in, taps]``; dense kernels
    ``[in, out]`` become Linear weights ``[out, in]``.
    """
    sd: dict[str, np.ndarray] = {}
    for i, name in enumerate(_BN_NAMES):
        s = _tf_scope("batch_normalization", i)
        sd[f"{name}.weight"] = tf_vars[f"{s}/gamma"]
        sd[f"{name}.bias"] = tf_vars[f"{s}/beta"]
        sd[f"{name}.running_mean"] = tf_vars[f"{s}/moving_mean"]
        sd[f"{name}.running_var"] = tf_vars[f"{s}/moving_variance"]
    for i, name in enumerate(_CONV_NAMES):
        s = _tf_scope("conv2d", i)
        k = np.asarray(tf_vars[f"{s}/kernel"])
        if name.startswith("mid."):
            sd[f"{name}.weight"] = k[:, :, 0, :].transpose(2, 1, 0)
        else:
            sd[f"{name}.weight"] = k.transpose(3, 2, 0, 1)
        sd[f"{name}.bias"] = tf_vars[f"{s}/bias"]
    for i, name in enumerate(_DENSE_NAMES):
        s = _tf_scope("dense", i)
        sd[f"{name}.weight"] = np.asarray(tf_vars[f"{s}/kernel"]).T
        sd[f"{name}.bias"] = tf_vars[f"{s}/bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


# ---------------------------------------------------------------- finding and loading weights


def shipped_weights_dir() -> Path:
    """Folder of the converted weights shipped inside this package."""
    return Path(__file__).resolve().parent / "weights"


def musicnn_package_dir() -> Path | None:
    """The installed ``musicnn`` package folder, found without importing it (it imports TensorFlow)."""
    try:
        spec = importlib.util.find_spec("musicnn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise MusicLLMError(f"unknown musicnn model {model!r}; choose from {', '.join(MODELS)}")


def _checkpoint_prefix(folder: Path, model: str) -> str | None:
    """musicnn's layout: ``<musicnn package>/<model>/.index``; also a checkpoint folder itself."""
    for cand in (folder / model, folder):
        if (cand / ".index").is_file():
            return os.path.join(cand, "")
    return None


def find_weights(model: str = "MTT_musicnn", weights: str | os.PathLike | None = None) -> Path | str:
    """Where the weights of ``model`` come from: an ``.npz`` file, or a TF checkpoint prefix (str).

    Search order: ``weights`` (an ``.npz`` file, a folder holding ``<model>.npz``, the musicnn package
    folder, or the checkpoint folder itself); then the converted files shipped in this package; then the
    installed musicnn package (located without importing it).
    """
    _check_model(model)
    if weights is not None:
        w = Path(weights)
        if w.is_file() and w.suffix == ".npz":
            return w
        if w.is_dir():
            if (w / f"{model}.npz").is_file():
                return w / f"{model}.npz"
            prefix = _checkpoint_prefix(w, model)
            if prefix:
                return prefix
            raise MusicLLMError(f"{w}: no {model}.npz and no musicnn checkpoint {model}/.index in this folder")
        raise MusicLLMError(f"{w}: not a weights file (.npz) or folder")
    shipped = shipped_weights_dir() / f"{model}.npz"
    if shipped.is_file():
        return shipped
    pkg = musicnn_package_dir()
    if pkg is not None:
        prefix = _checkpoint_prefix(pkg, model)
        if prefix:
            return prefix
    raise MissingDependencyError(f"musicnn weights for {model} not found; install them with "
                                 f"`{INSTALL_HINT}` (TensorFlow is not needed) or pass --weights DIR")


def load_state_dict(source: Path | str) -> dict[str, np.ndarray]:
    """State dict from an ``.npz`` written by ``convert_musicnn`` or from a musicnn TF checkpoint."""
    if isinstance(source, Path) and source.suffix == ".npz":
        try:
            with np.load(source, allow_pickle=False) as z:
                return {k: z[k] for k in z.files if not k.startswith("meta.")}
        except (OSError, ValueError) as exc:
            raise MusicLLMError(f"{source}: unreadable weights file ({exc})") from None
    from musicllm.models.taggers.tf_checkpoint import read_tf_checkpoint

    return state_dict_from_tf(read_tf_checkpoint(source, tf_variable_names()))


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    if n < 1:
        raise MusicLLMError(f"number of threads must be at least 1, got {n}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class MusicnnTagger:
    """A loaded musicnn model: the net, its 50 labels and where its weights came from."""

    name: str
    net: MusicnnNet
    labels: tuple[str, ...]
    source: str = ""
    info: dict[str, str] = field(default_factory=dict)

    def predict_patches(self, patches: np.ndarray, batch_size: int = 2, fast: bool = True,
                        num_threads: int | None = None) -> np.ndarray:
        """Tag probabilities ``[n_patches, 50]`` (sigmoid of the logits, float32) for log-mel patches.

        ``batch_size`` bounds memory (about 30 MB per patch), not the result. ``num_threads``: torch
        intra-op threads for this call (restored afterwards); ``None`` keeps torch's setting. On a
        machine whose cores are busy with other work, 1 thread can be several times faster than 2.
        """
        x = np.asarray(patches, dtype=np.float32)
        outs = []
        with torch.inference_mode(), _torch_threads(num_threads):
            for i in range(0, len(x), max(1, batch_size)):
                logits = self.net(torch.from_numpy(x[i:i + batch_size]), fast=fast)
                outs.append(torch.sigmoid(logits).numpy())
        return np.concatenate(outs) if outs else np.zeros((0, len(self.labels)), np.float32)

    def taggram(self, y: np.ndarray, sr: int, hop_frames: int = PATCH_FRAMES, fast: bool = True,
                num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(patch start times in seconds [n], probabilities [n, 50])`` for audio ``y`` at ``sr`` Hz."""
        spec = log_mel(to_model_rate(y, sr))
        patches = make_patches(spec, hop_frames)
        starts = np.array(patch_starts(max(spec.shape[0], PATCH_FRAMES), hop_frames), dtype=float) * HOP / SR
        return starts, self.predict_patches(patches, fast=fast, num_threads=num_threads)


def build_tagger(model: str, state: Mapping[str, np.ndarray], source: str = "") -> MusicnnTagger:
    """A :class:`MusicnnTagger` for ``model`` with the given state dict (numpy arrays)."""
    _check_model(model)
    labels = MODELS[model]
    net = MusicnnNet(num_classes=len(labels))
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise MusicLLMError(f"{source or 'weights'}: missing {len(missing)} tensors, e.g. {missing[0]!r}")
    tensors = {k: torch.from_numpy(np.asarray(state[k], dtype=np.float32)) for k in expected
               if not k.endswith("num_batches_tracked")}
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise MusicLLMError(f"{source or 'weights'}: tensor {k!r} has shape {list(v.shape)}, "
                                f"expected {list(expected[k].shape)}")
    net.load_state_dict(tensors, strict=False)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return MusicnnTagger(name=model, net=net, labels=labels, source=source)


@functools.lru_cache(maxsize=4)
def _load_cached(model: str, weights: str | None) -> MusicnnTagger:
    source = find_weights(model, weights)
    return build_tagger(model, load_state_dict(source), source=str(source))


def load_musicnn(model: str = "MTT_musicnn", weights: str | os.PathLike | None = None) -> MusicnnTagger:
    """Load ``MTT_musicnn`` or ``MSD_musicnn`` (cached per process); see :func:`find_weights`.

    Raises :class:`MissingDependencyError` naming ``pip install --no-deps musicnn==0.1.0`` when no
    weights are found, :class:`MusicLLMError` for an unknown model or unreadable weights.
    """
    _check_model(model)
    return _load_cached(model, None if weights is None else os.fspath(weights))
