"""Sections on AABA constructions: note activations built directly, and a rendered performance."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.analysis.notes import MIDI_OFFSET, N_PITCHES, SAMPLE_RATE, Activations, frame_times
from musicllm.analysis.structure import estimate_sections

# Chords (root pitch class, quality) per bar and melodies (MIDI) of the two sections.
A_CHORDS = [(0, "maj"), (0, "maj"), (5, "maj"), (7, "maj"), (0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]
B_CHORDS = [(9, "min"), (2, "min"), (4, "maj"), (9, "min"), (5, "maj"), (2, "min"), (4, "maj"), (4, "maj")]
A_MELODY = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 67,
            69, 71, 72, 74, 76, 79, 81, 79, 77, 76, 74, 72, 71, 74, 72, 72]
B_MELODY = [81, 83, 84, 83, 81, 79, 77, 76]


def _section(chords, melody, t0: float, bar_s: float, per_beat: int) -> dict[str, list[tuple[int, float, float]]]:
    """Parts of one section as (pitch, onset_s, offset_s): a bass note per bar, a triad on each beat,
    melody notes ``per_beat`` per beat."""
    beat = bar_s / 4
    out: dict[str, list[tuple[int, float, float]]] = {"bass": [], "chords": [], "melody": []}
    for i, (root, quality) in enumerate(chords):
        t = t0 + i * bar_s
        out["bass"].append((36 + root, t, t + bar_s * 0.95))
        third = 4 if quality == "maj" else 3
        out["chords"] += [(48 + root + iv, t + k * beat, t + (k + 0.9) * beat) for k in range(4) for iv in (0, third, 7)]
        d = beat / per_beat
        out["melody"] += [(melody[(i * 4 * per_beat + k) % len(melody)], t + k * d, t + (k + 0.95) * d)
                          for k in range(4 * per_beat)]
    return out


def _aaba(lead_s: float, bar_s: float, bars: int = 8) -> dict[str, list[tuple[int, float, float]]]:
    """An A A B A form with sections of ``bars`` bars starting at ``lead_s``."""
    sec = bars * bar_s
    parts: dict[str, list[tuple[int, float, float]]] = {"bass": [], "chords": [], "melody": []}
    for k, (chords, melody, per_beat) in enumerate([(A_CHORDS, A_MELODY, 1), (A_CHORDS, A_MELODY, 1),
                                                     (B_CHORDS, B_MELODY, 2), (A_CHORDS, A_MELODY, 1)]):
        for name, notes in _section(chords[:bars], melody, lead_s + k * sec, bar_s, per_beat).items():
            parts[name] += notes
    return parts


def _activations(notes, duration_s: float, rng: np.random.Generator, drop: float, noise: float) -> Activations:
    """Activations as basic-pitch gives them for clean notes (0.8 while sounding), with a share of the
    notes missed and background noise."""
    n = int(duration_s * 86)
    t = frame_times(n)
    frames = rng.uniform(0.0, noise, (n, N_PITCHES)).astype(np.float32)
    onsets = rng.uniform(0.0, noise, (n, N_PITCHES)).astype(np.float32)
    for p, a, b in notes:
        if rng.uniform() < drop:
            continue
        frames[(t >= a) & (t < b), p - MIDI_OFFSET] = 0.8
        onsets[min(int(np.searchsorted(t, a)), n - 1), p - MIDI_OFFSET] = 0.9
    return Activations(frames, onsets, int(duration_s * SAMPLE_RATE))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_aaba_from_activations(seed):
    rng = np.random.default_rng(seed)
    lead, bar = float(rng.uniform(0.2, 1.8)), 2.0  # 120 qpm, 8-bar sections of 16 s
    duration = lead + 32 * bar + 2.0
    act = _activations([n for part in _aaba(lead, bar).values() for n in part], duration, rng, drop=0.1, noise=0.05)
    beats = lead + 0.5 * np.arange(int((duration - lead) / 0.5))
    secs = estimate_sections(act, beats, beats[::4], duration)
    assert [s.label for s in secs] == ["A", "A", "B", "A"]
    assert [s.start_s for s in secs[1:]] == pytest.approx([lead + 16.0, lead + 32.0, lead + 48.0])
    assert secs[0].start_s == 0.0 and secs[-1].end_s == duration  # lead-in and tail included
    assert all(a.end_s == b.start_s for a, b in zip(secs, secs[1:], strict=False))
    assert all(0.0 <= s.confidence <= 1.0 for s in secs)


def test_aaba_rendered():
    """The same form, shorter (4-bar sections at 150 qpm), rendered and run through basic-pitch."""
    from musicllm.analysis.notes import compute_activations
    from musicllm.audio.render import render_score
    from musicllm.score.model import Note, Part, Score

    lead, bar = 0.6, 1.6
    sec = 4 * bar
    parts = _aaba(lead, bar, bars=4)
    programs = {"chords": 0, "bass": 32, "melody": 73}  # piano, acoustic bass, flute
    score = Score(parts=[Part(name, programs[name], [Note(p, a, b, 90 if name == "melody" else 70)
                                                    for p, a, b in notes]) for name, notes in parts.items()],
                  tempo_qpm=150)
    act = compute_activations([render_score(score, soundfont="TimGM6mb", sr=SAMPLE_RATE)])
    beats = lead + 0.4 * np.arange(int((act.duration_s - lead) / 0.4) + 1)
    secs = estimate_sections(act, beats, beats[::4], act.duration_s)
    assert [s.label for s in secs] == ["A", "A", "B", "A"]
    assert [s.start_s for s in secs[1:]] == pytest.approx([lead + sec, lead + 2 * sec, lead + 3 * sec])


def test_short_clip_is_one_section():
    rng = np.random.default_rng(0)
    notes = [n for part in _section(A_CHORDS, A_MELODY, 0.5, 2.0, 1).values() for n in part]
    act = _activations(notes, 17.0, rng, drop=0.0, noise=0.05)
    beats = 0.5 + 0.5 * np.arange(33)
    secs = estimate_sections(act, beats, beats[::4], 17.0)
    assert len(secs) == 1 and secs[0].label == "A"
    assert (secs[0].start_s, secs[0].end_s) == (0.0, 17.0)
    assert secs[0].to_dict()["label"] == "A"
