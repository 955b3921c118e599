"""Reference chord labels derived from score notes."""

from __future__ import annotations

import mir_eval
import pytest

from musicllm.data.chord_labels import chord_labels_from_notes, triad_labels, triad_masks
from musicllm.score.model import Note

BEAT = 0.5  # seconds (120 qpm)


def _bar_chord(pitches: list[int], bar: int, beats_per_bar: int = 4) -> list[dict]:
    t0 = bar * beats_per_bar * BEAT
    return [{"pitch": p, "onset_s": t0, "offset_s": t0 + beats_per_bar * BEAT} for p in pitches]


def _labels(segs):
    return [lab for _, _, lab in segs]


def test_vocabulary_is_valid_mir_eval_and_masks_are_triads():
    labels = triad_labels()
    assert len(labels) == 24 and len(set(labels)) == 24
    for lab in labels:
        mir_eval.chord.validate_chord_label(lab)
    masks = triad_masks()
    assert (masks.sum(axis=1) == 3).all()
    # The mask agrees with mir_eval's own reading of each label.
    for lab, m in zip(labels, masks, strict=True):
        root, bitmap, _ = mir_eval.chord.encode(lab)
        assert ((m > 0) == (mir_eval.chord.rotate_bitmap_to_root(bitmap, root) > 0)).all()


def test_block_chords_one_per_bar():
    notes = (_bar_chord([48, 64, 67, 72], 0) + _bar_chord([45, 60, 64, 69], 1)
             + _bar_chord([41, 60, 65, 69], 2) + _bar_chord([43, 59, 62, 67], 3))
    beats = [i * BEAT for i in range(16)]
    segs = chord_labels_from_notes(notes, beats)
    assert _labels(segs) == ["C:maj", "A:min", "F:maj", "G:maj"]
    assert [round(a, 3) for a, _, _ in segs] == [0.0, 2.0, 4.0, 6.0]
    assert segs[-1][1] == pytest.approx(8.0)


def test_bass_decides_between_relative_major_and_minor():
    # C and E only: with A in the bass it is A minor, with C in the bass C major.
    am = chord_labels_from_notes(_bar_chord([45, 60, 64], 0), [0.0, 0.5, 1.0, 1.5])
    c = chord_labels_from_notes(_bar_chord([48, 60, 64], 0), [0.0, 0.5, 1.0, 1.5])
    assert _labels(am) == ["A:min"] and _labels(c) == ["C:maj"]


def test_oom_pah_bass_keeps_the_bar_chord():
    # Bass alone on beats 1 and 3 (root, then fifth), chord on beats 2 and 4: one F major bar.
    notes = []
    for beat, pitches in enumerate([[41], [57, 60, 65], [48], [57, 60, 65]]):
        notes += [{"pitch": p, "onset_s": beat * BEAT, "offset_s": (beat + 0.9) * BEAT} for p in pitches]
    segs = chord_labels_from_notes(notes, [i * BEAT for i in range(4)])
    assert _labels(segs) == ["F:maj"]


def test_silence_is_no_chord_and_note_objects_work():
    notes = [Note(60, 0.0, 1.0), Note(64, 0.0, 1.0), Note(67, 0.0, 1.0),
             Note(57, 3.0, 4.0), Note(60, 3.0, 4.0), Note(64, 3.0, 4.0)]
    segs = chord_labels_from_notes(notes, [i * BEAT for i in range(8)])
    assert _labels(segs) == ["C:maj", "N", "A:min"]
    assert segs[1][0] == pytest.approx(1.0) and segs[1][1] == pytest.approx(3.0)
    # Segments are contiguous from 0 to the last note off.
    assert all(a[1] == b[0] for a, b in zip(segs, segs[1:], strict=False))


def test_empty_input():
    assert chord_labels_from_notes([], [0.0, 0.5]) == []
