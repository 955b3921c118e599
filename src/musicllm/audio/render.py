"""Render a `Score` to audio with SoundFonts (offline, deterministic).

The synthesiser is TinySoundFont (``tinysoundfont`` on PyPI), which reads ``.sf2`` and ``.sf3``
files. Rendering is offline: the note on/off events of each part are sorted and the samples between
consecutive events are generated in one call, so event times are exact to the sample.

Each part plays on its own MIDI channel (0, 1, ... skipping 9, which is reserved for drum parts) and
is rendered as its own stem; the mix is the sum of the stems. After the last note-off a release tail
(``tail_s`` seconds) is rendered so that decays are not cut off; the output has
``ceil((score.end_s + tail_s) * sr)`` samples.

Some SoundFont presets are unusable for parts of the keyboard (silent above or below a range, or, in
MuseScore_General's pianos under TinySoundFont, velocity layers that are 20 dB too quiet).
`audible_pitches` probes a preset and says which MIDI pitches it really sounds, so that callers which
need audio to match a ground truth (the dev set) can avoid the broken ones.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from musicllm.errors import AudioError, MissingDependencyError
from musicllm.files import atomic_write_with
from musicllm.score.model import Part, Score

DEFAULT_SR = 22050
DRUM_CHANNEL = 9

# System SoundFont folders searched by `available_soundfonts` (Debian/Ubuntu packages
# fluid-soundfont-gm, musescore-general-soundfont(-small), timgm6mb-soundfont...).
SYSTEM_SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts")

# General MIDI program names (0-based), used for display names.
GM_PROGRAM_NAMES = [
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel",
    "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ",
    "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar",
    "Guitar Harmonics", "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)",
    "Fretless Bass", "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola",
    "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs",
    "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax",
    "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute",
    "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina", "Lead 1 (square)",
    "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)",
    "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)",
    "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise",
    "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
]


def gm_program_name(program: int) -> str:
    """General MIDI name of a 0-based program number (``40`` -> ``"Violin"``)."""
    return GM_PROGRAM_NAMES[program] if 0 <= program < 128 else f"Program {program}"


def _import_tinysoundfont():
    try:
        import tinysoundfont
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "rendering needs TinySoundFont: pip install --no-deps tinysoundfont") from exc
    return tinysoundfont


def available_soundfonts() -> dict[str, str]:
    """SoundFonts found on this machine: ``{name: path}``, sorted by name.

    Always pretty_midi's bundled ``TimGM6mb.sf2`` (when pretty_midi is installed), plus the ``.sf2``
    and ``.sf3`` files in the Debian SoundFont folders (``FluidR3_GM.sf2`` from fluid-soundfont-gm,
    ``MuseScore_General*.sf3``...). Symbolic links such as ``default-GM.sf2`` are resolved and listed
    once, under the name of the file they point to. TinySoundFont reads both formats.
    """
    found: dict[str, str] = {}
    seen: set[str] = set()
    candidates: list[Path] = []
    try:
        import pretty_midi

        candidates.append(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")
    except ImportError:  # pragma: no cover
        pass
    for folder in SYSTEM_SOUNDFONT_DIRS:
        d = Path(folder)
        if d.is_dir():
            candidates.extend(sorted(p for p in d.iterdir() if p.suffix.lower() in (".sf2", ".sf3")))
    for path in candidates:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not real.is_file() or str(real) in seen:
            continue
        seen.add(str(real))
        found.setdefault(real.stem, str(real))
    return dict(sorted(found.items()))


def default_soundfont() -> str:
    """The SoundFont used when none is given: FluidR3_GM when installed, else TimGM6mb."""
    fonts = available_soundfonts()
    for name in ("FluidR3_GM", "TimGM6mb"):
        if name in fonts:
            return fonts[name]
    if fonts:
        return next(iter(fonts.values()))
    raise AudioError("no SoundFont found: install pretty_midi (bundles TimGM6mb.sf2) or fluid-soundfont-gm")


def resolve_soundfont(soundfont: str | os.PathLike | None) -> str:
    """A SoundFont path from a path, a name listed by `available_soundfonts`, or ``None`` (default)."""
    if soundfont is None:
        return default_soundfont()
    s = str(soundfont)
    fonts = available_soundfonts()
    if s in fonts:
        return fonts[s]
    p = Path(s)
    if not p.is_file():
        raise AudioError(f"SoundFont not found: {s} (known: {', '.join(fonts) or 'none'})")
    return str(p.resolve())


class _SynthCache:
    """Loaded synthesisers, one per (SoundFont path, sample rate); loading an .sf3 takes seconds."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple[str, int], object] = OrderedDict()
        self.lock = threading.RLock()

    def get(self, path: str, sr: int):
        key = (path, sr)
        with self.lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            tsf = _import_tinysoundfont()
            synth = tsf.Synth(samplerate=sr, gain=0.0)
            try:
                sfid = synth.sfload(path, max_voices=256)
            except Exception as exc:
                raise AudioError(f"cannot load SoundFont {path}: {exc}") from exc
            synth._musicllm_sfid = sfid  # type: ignore[attr-defined]
            self._items[key] = synth
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return synth


_SYNTHS = _SynthCache()


def _reset(synth) -> None:
    """Silence every voice and forget channel settings, so a render never hears the previous one."""
    sf = synth._get_soundfont(synth._musicllm_sfid)
    sf.reset()
    # Voices ended by reset fade out over a few milliseconds: render them away.
    synth.generate_simple(4096)


def _channel_for(index: int, part: Part) -> int:
    if part.is_drum:
        return DRUM_CHANNEL
    ch = index % 15
    return ch if ch < DRUM_CHANNEL else ch + 1


def _part_events(part: Part, sr: int) -> list[tuple[int, int, int, int]]:
    """(sample, kind, pitch, velocity) with kind 0 = note-off, 1 = note-on; offs sort before ons."""
    events: list[tuple[int, int, int, int]] = []
    for n in part.notes:
        if not 0 <= n.pitch <= 127:
            continue
        on = max(0, int(round(n.onset_s * sr)))
        off = max(on + 1, int(round(n.offset_s * sr)))
        vel = int(min(127, max(1, round(n.velocity))))
        events.append((on, 1, int(n.pitch), vel))
        events.append((off, 0, int(n.pitch), 0))
    events.sort()
    return events


def _render_part(synth, part: Part, channel: int, n_samples: int, sr: int) -> np.ndarray:
    sfid = synth._musicllm_sfid
    _reset(synth)
    if part.is_drum:
        synth.program_select(channel, sfid, 128, int(part.program), is_drums=True)
    else:
        try:
            synth.program_select(channel, sfid, 0, int(part.program))
        except RuntimeError:
            # Preset missing from this SoundFont: fall back to the piano rather than fail.
            synth.program_select(channel, sfid, 0, 0)
    out = np.zeros(2 * n_samples, dtype=np.float32)
    buf = memoryview(out).cast("B")
    pos = 0
    for sample, kind, pitch, vel in _part_events(part, sr):
        sample = min(sample, n_samples)
        if sample > pos:
            synth.generate_simple(sample - pos, buffer=buf[8 * pos: 8 * sample])
            pos = sample
        if kind == 1:
            synth.noteon(channel, pitch, vel)
        else:
            synth.noteoff(channel, pitch)
    if pos < n_samples:
        synth.generate_simple(n_samples - pos, buffer=buf[8 * pos: 8 * n_samples])
    stereo = out.reshape(-1, 2)
    return (0.5 * (stereo[:, 0] + stereo[:, 1])).astype(np.float32)


def render_length(score: Score, sr: int = DEFAULT_SR, tail_s: float = 1.0) -> int:
    """Number of samples `render_score` returns: ``ceil((score.end_s + tail_s) * sr)``."""
    return int(math.ceil((max(score.end_s, 0.0) + tail_s) * sr))


def render_parts(score: Score, *, soundfont: str | os.PathLike | None = None, sr: int = DEFAULT_SR,
                 gain_db: float = 0.0, tail_s: float = 1.0) -> list[np.ndarray]:
    """Render each part of ``score`` on its own: one mono float32 stem per part, all the same length.

    ``soundfont``: a path or a name from `available_soundfonts` (``None``: `default_soundfont`).
    ``sr``: sample rate in Hz. ``gain_db``: gain applied to every stem, in dB. ``tail_s``: seconds
    rendered after the end of the score (release tail).
    """
    path = resolve_soundfont(soundfont)
    n_samples = render_length(score, sr, tail_s)
    gain = np.float32(10.0 ** (gain_db / 20.0))
    with _SYNTHS.lock:
        synth = _SYNTHS.get(path, sr)
        stems = [_render_part(synth, part, _channel_for(i, part), n_samples, sr) * gain
                 for i, part in enumerate(score.parts)]
        _reset(synth)
    return [s.astype(np.float32, copy=False) for s in stems]


def _active_rms(x: np.ndarray, sr: int) -> float:
    """RMS over the 50 ms frames that are within 40 dB of the loudest frame (ignores silence)."""
    hop = max(1, int(0.05 * sr))
    n = len(x) // hop
    if n == 0:
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    frames = np.sqrt(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    top = frames.max()
    if top <= 0:
        return 0.0
    return float(np.sqrt(np.mean(frames[frames > top * 0.01] ** 2)))


def mix_stems(stems: list[np.ndarray], sr: int = DEFAULT_SR, gains_db: list[float] | None = None,
              balance: bool = True, target_rms: float = 0.05) -> np.ndarray:
    """Sum stems into one mono float32 signal.

    With ``balance`` each stem is first scaled to the same active RMS (``target_rms``, linear full
    scale), undoing loudness differences between SoundFont presets; ``gains_db`` (one per stem, dB)
    is applied afterwards, for a deliberate mix balance.
    """
    if not stems:
        return np.zeros(0, dtype=np.float32)
    out = np.zeros(max(len(s) for s in stems), dtype=np.float64)
    for i, s in enumerate(stems):
        g = 1.0
        if balance:
            r = _active_rms(s, sr)
            g = target_rms / r if r > 1e-7 else 0.0
        if gains_db is not None:
            g *= 10.0 ** (gains_db[i] / 20.0)
        out[: len(s)] += g * s
    return out.astype(np.float32)


def render_score(score: Score, *, soundfont: str | os.PathLike | None = None, sr: int = DEFAULT_SR,
                 gain_db: float = 0.0, tail_s: float = 1.0, balance: bool = False) -> np.ndarray:
    """Render ``score`` to mono float32 audio at ``sr`` Hz with a SoundFont.

    ``soundfont``: a path or a name from `available_soundfonts` (``None``: `default_soundfont`).
    ``gain_db``: output gain in dB (0 dB is TinySoundFont's native level, which peaks well under full
    scale for a few voices). ``tail_s``: seconds rendered after the last note-off. ``balance``:
    scale each part to the same loudness before mixing (see `mix_stems`); the result is then
    normalised to the level of the unbalanced mix. Returns ``render_length(score, sr, tail_s)``
    samples. Notes with pitches outside 0..127 are skipped; drum parts (``Part.is_drum``) play on
    channel 9 with the SoundFont's drum kit number ``Part.program``.
    """
    stems = render_parts(score, soundfont=soundfont, sr=sr, gain_db=gain_db, tail_s=tail_s)
    if not stems:
        return np.zeros(render_length(score, sr, tail_s), dtype=np.float32)
    raw = mix_stems(stems, sr, balance=False)
    if not balance:
        return raw
    mixed = mix_stems(stems, sr, balance=True)
    r_raw, r_mix = _active_rms(raw, sr), _active_rms(mixed, sr)
    if r_mix > 0:
        mixed *= np.float32(r_raw / r_mix)
    return mixed


@functools.lru_cache(maxsize=512)
def _probe(path: str, program: int, sr: int, is_drum: bool) -> tuple[tuple[int, ...], float]:
    """(audible pitches, median level) of one preset; see `audible_pitches`."""
    from musicllm.score.model import Note

    dur = 0.3
    keys = list(range(21, 109))
    levels = np.zeros(128)
    vel_ok = True
    with _SYNTHS.lock:
        synth = _SYNTHS.get(path, sr)
        for key in keys:
            part = Part(program=program, is_drum=is_drum, notes=[Note(key, 0.0, dur, 80)])
            x = _render_part(synth, part, DRUM_CHANNEL if is_drum else 0, int(dur * sr), sr)
            levels[key] = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        # Velocity response: louder velocities must not be much quieter (broken velocity layers).
        for key in (48, 60, 72):
            lv = []
            for vel in (40, 64, 90, 110):
                part = Part(program=program, is_drum=is_drum, notes=[Note(key, 0.0, dur, vel)])
                x = _render_part(synth, part, DRUM_CHANNEL if is_drum else 0, int(dur * sr), sr)
                lv.append(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))))
            if max(lv) > 0 and any(b < 0.5 * a for a, b in zip(lv, lv[1:], strict=False)):
                vel_ok = False
        _reset(synth)
    lv_keys = levels[keys]
    sounding = lv_keys[lv_keys > 1e-3 * lv_keys.max()] if lv_keys.max() > 0 else lv_keys[:0]
    ref = float(np.median(sounding)) if len(sounding) else 0.0
    if not vel_ok or ref <= 1e-5:
        return (), ref
    audible = tuple(k for k in keys if levels[k] >= 0.1 * ref)
    return audible, ref


def audible_pitches(soundfont: str | os.PathLike | None, program: int, *, sr: int = DEFAULT_SR,
                    is_drum: bool = False) -> frozenset[int]:
    """MIDI pitches (21..108) that ``program`` really sounds in ``soundfont`` at a normal level.

    A pitch counts when its level is within 20 dB of the median level of the pitches that sound at
    all (some presets only cover the instrument's range). A preset whose
    velocity response is broken (a louder velocity 6 dB or more quieter than a softer one) is
    reported as sounding nothing. Results are cached per process.
    """
    path = resolve_soundfont(soundfont)
    audible, _ = _probe(path, int(program), int(sr), bool(is_drum))
    return frozenset(audible)


def write_wav(path: str | os.PathLike, samples: np.ndarray, sr: int, *, subtype: str = "PCM_16") -> Path:
    """Write mono (or ``(n, channels)``) audio to a WAV file atomically; values clipped to [-1, 1]."""
    import soundfile as sf

    data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return atomic_write_with(path, lambda tmp: sf.write(tmp, data, int(sr), subtype=subtype, format="WAV"))
