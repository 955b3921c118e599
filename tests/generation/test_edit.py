"""Score editing on small known melodies: exact pitches, times in seconds and quarter notes, bars."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from musicllm.errors import MusicLLMError
from musicllm.generation.edit import (
    apply_instruction,
    change_instrument,
    change_key,
    change_meter,
    change_mode,
    change_tempo,
    count_bars,
    lengthen,
    shorten,
    simplify,
    transpose,
)
from musicllm.score.abc import read_abc, read_abc_with_warnings, write_abc
from musicllm.score.model import Key, Meter, Note, Part, Score

# D major: D E F# G A B c# d | d c# B A (halves) | F# A d A F# A d A | d (whole)
D_MAJOR = """X:1
T:Scale
M:4/4
L:1/8
Q:1/4=120
K:D
DEFG ABcd | d2 c2 B2 A2 | FAdA FAdA | d8 |]
"""
D_PITCHES = [62, 64, 66, 67, 69, 71, 73, 74, 74, 73, 71, 69, 66, 69, 74, 69, 66, 69, 74, 69, 74]

# A harmonic minor with its raised 7th (G#)
A_HARMONIC = """X:1
T:Harmonic
M:4/4
L:1/8
Q:1/4=100
K:Am
ABcd ef^ga | a8 |]
"""

JIG = """X:1
T:Jig
M:6/8
L:1/8
Q:3/8=100
K:G
G2B d2B | c2A F2D | G2B d2g | f2a g3 |]
"""

STRAIGHT_68 = """X:1
T:Eighths
M:6/8
L:1/8
Q:3/8=100
K:G
GAB cde | dcB AGF | G6 |]
"""

PICKUP = """X:1
T:Pickup
M:4/4
L:1/8
Q:1/4=120
K:G
D | G2 B2 d2 B2 | A2 F2 D3 |]
"""


def pitches(score: Score, part: int = 0) -> list[int]:
    return [n.pitch for n in sorted(score.parts[part].notes, key=lambda n: (n.onset_qn, n.pitch))]


def times_agree(score: Score) -> bool:
    """Every note's seconds equal its quarter notes through the score's own time map."""
    tm = score.time_map()
    return all(abs(tm.to_s(float(n.onset_qn)) - n.onset_s) < 1e-6 and abs(tm.to_s(float(n.offset_qn)) - n.offset_s) < 1e-6
               for p in score.parts for n in p.notes)


@pytest.fixture
def d_major() -> Score:
    s = read_abc(D_MAJOR)
    assert pitches(s) == D_PITCHES and s.key == Key("D", "major")
    return s


# -- pitch ------------------------------------------------------------------------------------------


def test_transpose_moves_every_pitch_and_the_key(d_major):
    up = transpose(d_major, 5)
    assert pitches(up) == [p + 5 for p in D_PITCHES]
    assert up.key == Key("G", "major")
    assert transpose(d_major, -2).key == Key("C", "major")
    assert transpose(d_major, 4).key == Key("F#", "major")
    assert transpose(d_major, -1).key == Key("Db", "major")  # 5 flats, not 7 sharps
    assert transpose(read_abc(D_MAJOR.replace("K:D", "K:F")), 1).key == Key("Gb", "major")  # flat side stays
    assert pitches(d_major) == D_PITCHES  # the input is left alone


def test_transpose_out_of_midi_range_is_a_user_error(d_major):
    with pytest.raises(MusicLLMError, match="outside the MIDI range"):
        transpose(d_major, 60)


def test_change_key_major_to_minor_lowers_third_sixth_seventh(d_major):
    g_minor = change_key(d_major, "G minor")
    assert g_minor.key == Key("G", "minor")
    # up a fourth (the nearer G), F# B C# -> F Bb C before the move: G A Bb C D Eb F G
    assert pitches(g_minor)[:8] == [67, 69, 70, 72, 74, 75, 77, 79]
    assert pitches(g_minor)[8:12] == [79, 77, 75, 74]
    d_minor = change_mode(d_major, "minor")
    assert pitches(d_minor)[:8] == [62, 64, 65, 67, 69, 70, 72, 74]
    assert str(d_minor.key) == "D minor"


def test_change_key_minor_to_major_keeps_chromatic_notes():
    a_minor = read_abc(A_HARMONIC)
    assert pitches(a_minor) == [69, 71, 72, 74, 76, 77, 80, 81, 81]
    a_major = change_mode(a_minor, "major")
    # C -> C#, F -> F#; the raised 7th (G#) is outside A natural minor and stays
    assert pitches(a_major) == [69, 71, 73, 74, 76, 78, 80, 81, 81]
    down = change_key(a_minor, "E minor", direction="down")
    assert pitches(down)[0] == 64 and down.key == Key("E", "minor")


def test_change_instrument_renames_the_part(d_major):
    v = change_instrument(d_major, "fiddle")
    assert v.parts[0].program == 40 and v.parts[0].name == "Violin"
    assert change_instrument(d_major, 73, part=0).parts[0].program == 73
    with pytest.raises(MusicLLMError, match="unknown instrument"):
        change_instrument(d_major, "kazoo-tron")
    with pytest.raises(MusicLLMError, match="no part 3"):
        change_instrument(d_major, 40, part=3)


# -- tempo ------------------------------------------------------------------------------------------


def test_change_tempo_scales_seconds_not_quarter_notes(d_major):
    fast = change_tempo(d_major, factor=2)
    assert fast.tempo_qpm == 240
    for a, b in zip(d_major.parts[0].notes, fast.parts[0].notes, strict=True):
        assert b.onset_qn == a.onset_qn and b.offset_qn == a.offset_qn
        assert b.onset_s == pytest.approx(a.onset_s / 2) and b.offset_s == pytest.approx(a.offset_s / 2)
    assert times_agree(fast)
    slow = change_tempo(d_major, qpm=90)
    assert slow.tempo_qpm == 90 and slow.parts[0].notes[-1].offset_s == pytest.approx(16 * 60 / 90)
    with pytest.raises(MusicLLMError, match="not playable"):
        change_tempo(d_major, qpm=2000)


def test_change_tempo_keeps_a_measured_beat_grid_consistent():
    # a "transcription": beats speeding up, notes on the beats
    beats = [0.0, 0.6, 1.1, 1.55, 1.95, 2.3]
    notes = [Note(60 + i, beats[i], beats[i + 1], onset_qn=Fraction(i), offset_qn=Fraction(i + 1)) for i in range(5)]
    s = Score(parts=[Part(notes=notes)], tempo_qpm=120, beat_times_s=beats, downbeat_times_s=[0.0, 1.95])
    assert times_agree(s)
    slow = change_tempo(s, factor=0.5)
    assert slow.beat_times_s == [b * 2 for b in beats] and times_agree(slow)


# -- meter ------------------------------------------------------------------------------------------


def test_change_meter_rebars_and_abc_bars_add_up(d_major):
    two = change_meter(d_major, "2/4")
    assert two.meter == Meter(2, 4) and count_bars(two) == 8
    text = write_abc(two)
    assert "M:2/4" in text and text.count("|") - text.count("|]") == 7  # 8 bars: 7 bar lines + the end
    back, warnings = read_abc_with_warnings(text)
    assert warnings == []  # the reader checks every bar's length against the meter
    assert pitches(back) == D_PITCHES
    assert [n.onset_qn for n in back.parts[0].notes] == [n.onset_qn for n in d_major.parts[0].notes]
    assert change_meter(d_major, "2/2").meter == Meter(2, 2)


def test_six_eight_to_three_four_only_when_the_rhythm_allows():
    straight = read_abc(STRAIGHT_68)
    three = change_meter(straight, "3/4")
    assert three.meter == Meter(3, 4) and read_abc_with_warnings(write_abc(three))[1] == []
    with pytest.raises(MusicLLMError, match="cannot change 6/8 to 3/4 without rewriting rhythm"):
        change_meter(read_abc(JIG), "3/4")  # quarter-eighth pairs cross the 3/4 beats
    with pytest.raises(MusicLLMError, match="cannot change 6/8 to 4/4 without rewriting rhythm"):
        change_meter(read_abc(JIG), "4/4")
    assert change_meter(read_abc(JIG), "12/8").meter == Meter(12, 8)


def test_change_meter_rebuilds_a_measured_beat_grid():
    beats = [0.5 * i for i in range(9)]
    notes = [Note(60, 0.5 * i, 0.5 * (i + 1), onset_qn=Fraction(i), offset_qn=Fraction(i + 1)) for i in range(8)]
    s = Score(parts=[Part(notes=notes)], tempo_qpm=120, meter=Meter(4, 4), beat_times_s=beats,
              downbeat_times_s=[0.0, 2.0])
    half = change_meter(s, "2/2")
    assert half.beat_times_s == [0.0, 1.0, 2.0, 3.0]  # half-note beats
    assert half.downbeat_times_s == [0.0, 2.0] and times_agree(half)


# -- length and simplify ----------------------------------------------------------------------------


def test_lengthen_repeats_the_tune(d_major):
    longer = lengthen(d_major, 4)
    assert count_bars(longer) == 8
    assert pitches(longer) == D_PITCHES + D_PITCHES
    assert times_agree(longer) and read_abc_with_warnings(write_abc(longer))[1] == []
    assert pitches(lengthen(d_major, 2)) == D_PITCHES + D_PITCHES[:12]
    assert pitches(shorten(d_major, 2)) == D_PITCHES[:12]


def test_lengthen_puts_the_anacrusis_before_the_repeat():
    s = read_abc(PICKUP)
    assert s.pickup_qn == Fraction(1, 2) and count_bars(s) == 2
    longer = lengthen(s, 2)
    onsets = {n.onset_qn: n.pitch for n in longer.parts[0].notes}
    assert onsets[Fraction(8)] == 62  # the pickup D fills the end of bar 2 ...
    assert onsets[Fraction(17, 2)] == 67  # ... before bar 1 comes again
    assert count_bars(longer) == 4 and read_abc_with_warnings(write_abc(longer))[1] == []


def test_simplify_keeps_one_note_per_beat(d_major):
    simple = simplify(d_major)
    notes = simple.parts[0].notes
    assert len(notes) < len(d_major.parts[0].notes)
    assert all(n.onset_qn.denominator == 1 for n in notes)  # on quarter-note beats
    assert len({n.onset_qn for n in notes}) == len(notes)
    assert [n.pitch for n in notes[:4]] == [62, 66, 69, 73]  # first of each eighth pair
    assert times_agree(simple) and read_abc_with_warnings(write_abc(simple))[1] == []


def test_simplify_reduces_chords_top_in_the_melody_bottom_below():
    chords = read_abc("X:1\nM:4/4\nL:1/4\nK:C\nV:1\n[ceg] [dfa] [egb] [c'eg] |]\nV:2\n[C,E,G,] [D,F,A,] G,/A,/ C, |]\n")
    simple = simplify(chords)
    assert pitches(simple, 0) == [79, 81, 83, 84]
    assert pitches(simple, 1) == [48, 50, 55, 48]  # C, = 48; the G,/A,/ beat keeps G,


# -- instructions -----------------------------------------------------------------------------------


def test_slower_and_in_g_minor(d_major):
    r = apply_instruction(d_major, "slower and in G minor")
    assert r.score.key == Key("G", "minor") and r.score.tempo_qpm == 100
    assert pitches(r.score)[:8] == [67, 69, 70, 72, 74, 75, 77, 79]
    assert r.applied == ["key D major -> G minor", "tempo 120 -> 100 qpm ('slower')"]
    assert r.ignored == []
    assert times_agree(r.score)
    d = json.loads(r.to_json())
    assert d["applied"] == r.applied and d["score"]["key"] == "G minor" and d["score"]["tempo_qpm"] == 100


@pytest.mark.parametrize("instruction,check", [
    ("transpose up a fourth", lambda s: pitches(s)[0] == 67 and s.key == Key("G", "major")),
    ("down two semitones", lambda s: pitches(s)[0] == 60 and s.key == Key("C", "major")),
    ("an octave higher", lambda s: pitches(s)[0] == 74),
    ("up a minor third", lambda s: pitches(s)[0] == 65 and s.key == Key("F", "major")),
    ("play it on violin", lambda s: s.parts[0].program == 40),
    ("faster", lambda s: s.tempo_qpm == 144),
    ("a bit slower", lambda s: s.tempo_qpm == 109),
    ("twice as fast", lambda s: s.tempo_qpm == 240),
    ("at 90 bpm", lambda s: s.tempo_qpm == 90),
    ("in 2/4", lambda s: s.meter == Meter(2, 4)),
    ("in cut time", lambda s: s.meter == Meter(2, 2)),
    ("make it simpler", lambda s: len(s.parts[0].notes) == 13),
    ("twice as long", lambda s: count_bars(s) == 8),
    ("add 2 bars", lambda s: count_bars(s) == 6),
    ("only the first 2 bars", lambda s: count_bars(s) == 2),
    ("make it 16 bars long", lambda s: count_bars(s) == 16),
    ("in minor", lambda s: s.key == Key("D", "minor") and pitches(s)[2] == 65),
    ("to the relative minor", lambda s: s.key == Key("B", "minor") and pitches(s)[0] == 59),
    ("sadder", lambda s: s.key == Key("D", "minor") and s.tempo_qpm == 96),
    ("in E, for flute, 20% faster", lambda s: pitches(s)[0] == 64 and s.parts[0].program == 73 and s.tempo_qpm == 144),
])
def test_instruction_table(d_major, instruction, check):
    r = apply_instruction(d_major, instruction)
    assert check(r.score), (instruction, r.applied)
    assert r.applied and r.ignored == []
    assert times_agree(r.score)


@pytest.mark.parametrize("instruction,semitones", [
    ("a perfect fifth down", -7), ("raise it by a whole tone", 2), ("transpose -3", -3), ("transpose by +4", 4),
    ("up 2 half-steps", 2), ("lower it by a major sixth", -9), ("up a tritone", 6), ("two octaves lower", -24),
    ("down an augmented fourth", -6), ("up a step", 2),
])
def test_interval_phrases(d_major, instruction, semitones):
    r = apply_instruction(d_major, instruction, use_embeddings=False)
    assert pitches(r.score) == [p + semitones for p in D_PITCHES], r.applied


@pytest.mark.parametrize("instruction,message", [
    ("", "empty"),
    ("purple elephant", "nothing to edit"),
    ("faster and slower", "contradictory"),
    ("up a fourth and in G minor", "both move the tonic"),
    ("in 3/4", "cannot change 4/4 to 3/4 without rewriting rhythm"),
    ("as a jig", "cannot change 4/4 to 6/8"),
    ("in D major and in G major", "contradictory"),
    ("slower, at 200 bpm", "contradictory"),
    ("in 7/5", "cannot use the meter 7/5"),
])
def test_bad_instructions_raise_one_line(d_major, instruction, message):
    with pytest.raises(MusicLLMError, match=message) as info:
        apply_instruction(d_major, instruction, use_embeddings=False)
    assert "\n" not in str(info.value)


def test_several_parts_and_drums():
    melody = [Note(72 + i, 0.5 * i, 0.5 * i + 0.5, onset_qn=Fraction(i), offset_qn=Fraction(i + 1)) for i in range(4)]
    bass = [Note(48, 0.0, 2.0, onset_qn=Fraction(0), offset_qn=Fraction(4))]
    drums = [Note(36, 0.5 * i, 0.5 * i + 0.1, onset_qn=Fraction(i), offset_qn=Fraction(i, 1) + Fraction(1, 5))
             for i in range(4)]
    s = Score(parts=[Part("Melody", 0, melody), Part("Bass", 32, bass), Part("Drums", 0, drums, is_drum=True)],
              tempo_qpm=120, key=Key("C", "major"))
    r = apply_instruction(s, "up a fifth for violin and cello")
    assert pitches(r.score, 0) == [79, 80, 81, 82] and pitches(r.score, 1) == [55]
    assert pitches(r.score, 2) == [36] * 4 and r.score.parts[2].is_drum  # drums untouched
    assert [p.program for p in r.score.parts] == [40, 42, 0]
    assert r.score.key == Key("G", "major")


def test_unknown_words_are_reported_not_fatal(d_major):
    r = apply_instruction(d_major, "faster please, zxqv", use_embeddings=False)
    assert r.score.tempo_qpm == 144 and r.ignored == ["zxqv"]


def test_edit_quantises_a_score_without_quarter_notes():
    notes = [Note(60 + i, 0.5 * i, 0.5 * i + 0.45) for i in range(8)]
    s = Score(parts=[Part(notes=notes)], tempo_qpm=120)
    r = apply_instruction(s, "in 2/4")
    assert all(n.onset_qn is not None for n in r.score.parts[0].notes)
    assert count_bars(r.score) == 4 and read_abc_with_warnings(write_abc(r.score))[1] == []
