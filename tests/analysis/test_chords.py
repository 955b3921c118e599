"""Chord recognition: rendered progressions (with room and noise) and constructed activations."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from musicllm.analysis.chords import ChordSegment, estimate_chords, readable
from musicllm.analysis.notes import MIDI_OFFSET, N_PITCHES, SAMPLE_RATE, Activations, frame_times

FONT = "TimGM6mb"  # bundled with pretty_midi: always there
BAR_S = 2.0        # 4 beats at 120 qpm
LEAD_S = 0.5
# (bass, chord tones, expected label): C Am F G Em C
PROGRESSION = [(48, [60, 64, 67], "C:maj"), (45, [60, 64, 69], "A:min"), (41, [60, 65, 69], "F:maj"),
               (43, [59, 62, 67], "G:maj"), (40, [59, 64, 67], "E:min"), (48, [60, 64, 67], "C:maj")]


def _progression_notes() -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """(chord notes, bass notes) as (pitch, onset_s, offset_s): repeated quarter-note chords over a
    held bass, one chord per bar."""
    chords, bass = [], []
    for i, (b, tones, _) in enumerate(PROGRESSION):
        t = LEAD_S + i * BAR_S
        bass.append((b, t, t + BAR_S - 0.1))
        chords += [(p, t + k * 0.5, t + k * 0.5 + 0.45) for k in range(4) for p in tones]
    return chords, bass


def _bar_labels(segs: list[ChordSegment]) -> list[str]:
    """The label covering the middle of each bar."""
    out = []
    for i in range(len(PROGRESSION)):
        mid = LEAD_S + (i + 0.5) * BAR_S
        out.append(next(s.label for s in segs if s.start_s <= mid < s.end_s))
    return out


@pytest.fixture(scope="module")
def rendered() -> np.ndarray:
    from musicllm.audio.render import render_score
    from musicllm.score.model import Note, Part, Score

    chords, bass = _progression_notes()
    score = Score(parts=[Part("strings", 48, [Note(p, a, b, 70) for p, a, b in chords]),
                         Part("bass", 32, [Note(p, a, b, 95) for p, a, b in bass])], tempo_qpm=120)
    return render_score(score, soundfont=FONT, sr=SAMPLE_RATE)


def _activations(audio: np.ndarray) -> Activations:
    from musicllm.analysis.notes import compute_activations

    return compute_activations([audio])


def _beats() -> np.ndarray:
    return LEAD_S + 0.5 * np.arange(4 * len(PROGRESSION))


def test_rendered_progression(rendered):
    act = _activations(rendered)
    segs = estimate_chords(act, _beats())
    assert _bar_labels(segs) == [lab for *_, lab in PROGRESSION]
    # Chords change on the bar lines (beats), and the clip is covered without gaps.
    changes = [s.start_s for s in segs if s.label != "N"]
    assert changes == pytest.approx([LEAD_S + i * BAR_S for i in range(len(PROGRESSION))])
    assert segs[0].start_s == 0.0 and segs[-1].end_s == pytest.approx(act.duration_s)
    assert all(a.end_s == b.start_s for a, b in zip(segs, segs[1:], strict=False))
    assert segs[0].label == "N"  # the silent lead-in
    for s in segs:
        mir_eval.chord.validate_chord_label(s.label)
        assert 0.0 <= s.confidence <= 1.0


def test_rendered_progression_with_reverb_and_noise_without_beats(rendered):
    from musicllm.audio.effects import add_noise, add_reverb

    rng = np.random.default_rng(0)
    wet = add_noise(add_reverb(rendered, SAMPLE_RATE, rt60_s=1.2, wet=0.4, rng=rng), 20.0, rng, "pink")
    segs = estimate_chords(_activations(wet), None)  # on the 0.5 s grid
    assert _bar_labels(segs) == [lab for *_, lab in PROGRESSION]


def _constructed(notes: list[tuple[int, float, float]], duration_s: float, seed: int = 0) -> Activations:
    """Activations as basic-pitch would give them for clean notes (0.8 while sounding), plus noise."""
    n = int(duration_s * 86)
    t = frame_times(n)
    rng = np.random.default_rng(seed)
    frames = rng.uniform(0.0, 0.15, (n, N_PITCHES)).astype(np.float32)
    for p, a, b in notes:
        frames[(t >= a) & (t < b), p - MIDI_OFFSET] = 0.8
    return Activations(frames, np.zeros_like(frames), int(duration_s * SAMPLE_RATE))


def test_constructed_activations_minor_chords_and_silence():
    # Dm | (silence) | Bbm | F#m, three notes each, with a gap of silence in the middle.
    notes = [(p, 0.0, 2.0) for p in (50, 62, 65, 69)] + [(p, 4.0, 6.0) for p in (46, 61, 65, 70)] \
        + [(p, 6.0, 8.0) for p in (42, 61, 66, 69)]
    act = _constructed(notes, 8.0)
    segs = estimate_chords(act, np.arange(0.0, 8.0, 0.5))
    labels = [(round(s.start_s, 1), s.label) for s in segs]
    assert labels == [(0.0, "D:min"), (2.0, "N"), (4.0, "Bb:min"), (6.0, "F#:min")]
    assert [s.readable for s in segs] == ["Dm", "N.C.", "Bbm", "F#m"]


def test_readable_and_empty():
    assert [readable(x) for x in ("C:maj", "A:min", "Eb:maj", "N")] == ["C", "Am", "Eb", "N.C."]
    empty = Activations(np.zeros((0, N_PITCHES), np.float32), np.zeros((0, N_PITCHES), np.float32), 0)
    assert estimate_chords(empty, None) == []
    d = ChordSegment(0.0, 1.23456, "A:min", 0.91234).to_dict()
    assert d == {"start_s": 0.0, "end_s": 1.235, "label": "A:min", "confidence": 0.912, "symbol": "Am"}
