"""ABC 2.1 reading and writing: round trips, reader details, robustness, abc2midi and music21 checks."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from fractions import Fraction as F
from pathlib import Path

import pytest

from musicllm.errors import NotationError
from musicllm.score.abc import (
    read_abc,
    read_abc_file,
    read_abc_with_warnings,
    split_tunes,
    write_abc,
    write_abc_file,
)
from musicllm.score.abc_read import key_signature
from musicllm.score.model import Key, Meter, Note, Part, Score

NOTTINGHAM_DIR = Path(os.environ.get("MUSICLLM_NOTTINGHAM_DIR", "/work/shared/data/nottingham/ABC_cleaned"))


def _music21_corpus() -> Path | None:
    try:
        import music21
    except ImportError:
        return None
    d = Path(music21.__file__).parent / "corpus"
    return d if d.is_dir() else None


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def N(pitch: int, on, off, tempo: float = 120.0) -> Note:
    on, off = F(on), F(off)
    return Note(pitch, float(on) * 60 / tempo, float(off) * 60 / tempo, 80, on, off)


def make_score(*parts: list[Note], meter=(4, 4), key=("C", "major"), pickup=0, tempo=120.0,
               names=None, programs=None) -> Score:
    ps = [Part(name=(names[i] if names else f"P{i}"), program=(programs[i] if programs else 0), notes=list(n))
          for i, n in enumerate(parts)]
    return Score(parts=ps, tempo_qpm=tempo, meter=Meter(*meter), key=Key(*key), title="T", pickup_qn=F(pickup))


def note_tuples(score: Score) -> list[list[tuple[int, F, F]]]:
    return [sorted((n.pitch, F(n.onset_qn), F(n.offset_qn)) for n in p.notes) for p in score.parts]


def pitches(score: Score, part: int = 0) -> list[int]:
    return [n.pitch for n in sorted(score.parts[part].notes, key=lambda n: (n.onset_qn, n.pitch))]


def spans(score: Score, part: int = 0) -> list[tuple[int, F, F]]:
    return note_tuples(score)[part]


def _len(text: str) -> F:
    """An ABC length suffix as a multiple of the unit: '', '2', '/', '/4', '3/2', '3/'."""
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    num = int(m.group(1)) if m.group(1) else 1
    if m.group(2):
        den = int(m.group(3)) if m.group(3) else 2 ** len(m.group(2))
    else:
        den = 1
    return F(num, den)


_TOKEN = re.compile(r"""
    (?P<tuplet>\((?P<p>\d+)(?::(?P<q>\d*))?(?::(?P<r>\d*))?)
  | (?P<chord>\[(?:[_^=]*[A-Ga-g][,']*-?)+\])(?P<clen>[\d/]*)-?
  | (?P<note>[_^=]*[A-Ga-gz][,']*)(?P<nlen>[\d/]*)-?
  | (?P<bar>\|\]|\|)
  | (?P<space>\s+)
""", re.X)


def written_bars(abc: str) -> tuple[F, F, dict[str, list[F]]]:
    """Independent checker for the writer's output: bar lengths (quarter notes) per voice.

    Returns (bar_qn from M:, unit L:, {voice id: [bar lengths]}). Fails on any unexpected token.
    """
    header = dict(re.findall(r"(?m)^([MLK]):(.*)$", abc))
    num, den = (int(x) for x in header["M"].split("/"))
    bar_qn = F(4 * num, den)
    unit = F(header["L"].strip())
    voices: dict[str, list[F]] = {}
    current = None
    for line in abc.splitlines():
        if line.startswith("V:"):
            current = line[2:].split()[0]
            voices[current] = []
            pending = F(0)
            continue
        if current is None or line.startswith("%") or re.match(r"[A-Za-z]:", line):
            continue
        pos = 0
        tup_left, tup_factor = 0, F(1)
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            assert m, f"unexpected text in written ABC: {line[pos:pos + 20]!r}"
            pos = m.end()
            if m.group("tuplet"):
                p = int(m.group("p"))
                q = int(m.group("q")) if m.group("q") else 2
                tup_left = int(m.group("r")) if m.group("r") else p
                tup_factor = F(q, p)
                continue
            if m.group("bar"):
                voices[current].append(pending)
                pending = F(0)
                continue
            if m.group("space"):
                continue
            length = _len(m.group("clen") if m.group("chord") else m.group("nlen"))
            d = length * unit * 4
            if tup_left:
                d *= tup_factor
                tup_left -= 1
            pending += d
        assert tup_left == 0, "tuplet runs over the end of a line"
    return bar_qn, unit, voices


def check_written(abc: str, pickup: F = F(0)) -> None:
    """Every voice has the same number of bars; all bars full except a leading pickup bar."""
    bar_qn, _, voices = written_bars(abc)
    counts = {len(b) for b in voices.values()}
    assert len(counts) == 1, f"voices differ in bar count: {counts}"
    for vid, bars in voices.items():
        first = 1 if pickup else 0
        if pickup:
            assert bars[0] == pickup, (vid, bars[0], pickup)
        assert all(b == bar_qn for b in bars[first:]), (vid, [b for b in bars if b != bar_qn][:5], bar_qn)


def on_grid(score: Score) -> bool:
    """All note times on the writer's 1/48 quarter-note grid and no two notes of one pitch overlapping
    in a part (so a round trip is exact)."""
    for p in score.parts:
        last_end: dict[int, F] = {}
        for n in sorted(p.notes, key=lambda n: n.onset_qn):
            if (F(n.onset_qn) * 48).denominator != 1 or (F(n.offset_qn) * 48).denominator != 1:
                return False
            if last_end.get(n.pitch, -1) > n.onset_qn:
                return False
            last_end[n.pitch] = n.offset_qn
    return True


def round_trip(score: Score, **kw) -> tuple[str, Score]:
    abc = write_abc(score, **kw)
    back = read_abc(abc)
    assert note_tuples(back) == note_tuples(score), abc
    check_written(abc, back.pickup_qn)
    return abc, back


def abc2midi_errors(abc: str, tmp_path: Path, name: str = "t") -> list[str]:
    src = tmp_path / f"{name}.abc"
    src.write_text(abc)
    r = subprocess.run(["abc2midi", str(src), "-o", str(tmp_path / f"{name}.mid")],
                       capture_output=True, text=True, timeout=30)
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "error" in ln.lower()]
    if r.returncode != 0:
        lines.append(f"exit code {r.returncode}")
    return lines


# ---------------------------------------------------------------------------------------------------
# Hand-made scores: write -> read
# ---------------------------------------------------------------------------------------------------


def test_chords_rests_and_ties_across_barlines():
    notes = [N(60, 0, 2), N(64, 0, 2), N(67, 0, 2), N(72, F(5, 2), F(9, 2)), N(74, F(9, 2), 5),
             N(76, 6, 8), N(79, 6, 10), N(55, 12, 13)]
    abc, back = round_trip(make_score(notes), unit="1/8")
    assert "[CEG]4" in abc
    assert "z" in abc and "-" in abc
    assert back.meter == Meter(4, 4) and back.key == Key("C", "major")


def test_triplets_eighth_quarter_and_sixteenth():
    t = F(1, 3)
    notes = [N(60, 0, t), N(62, t, 2 * t), N(64, 2 * t, 1),            # eighth triplet
             N(65, 1, F(3, 2)), N(67, F(3, 2), 2),                        # plain eighths
             N(69, 2, 2 + 2 * t), N(71, 2 + 2 * t, 2 + 4 * t), N(72, 2 + 4 * t, 4),  # quarter triplet
             *[N(60 + k, 4 + k * F(1, 6), 4 + (k + 1) * F(1, 6)) for k in range(6)],  # 16th triplets
             N(67, 5, 8)]
    abc, _ = round_trip(make_score(notes))
    assert "(3CDE" in abc
    assert "(3A2B2c2" in abc


def test_triplet_note_crossing_a_beat_and_a_barline():
    notes = [N(60, 0, 1), N(70, 2, F(10, 3)), N(61, F(10, 3), F(14, 3)), N(63, F(14, 3), 6), N(72, 6, 8)]
    round_trip(make_score(notes))


def test_pickup_bar():
    notes = [N(67, 0, 1), N(72, 1, 2), N(74, 2, 3), N(76, 3, 4), N(77, 4, 7)]
    abc, back = round_trip(make_score(notes, meter=(3, 4), pickup=1), unit="1/8")
    assert back.pickup_qn == 1
    first_bar = abc.split("%%MIDI program 0\n", 1)[1].split("|")[0].strip()
    assert first_bar == "G2"


def test_compound_meter_uses_plain_eighths():
    e = F(1, 2)
    notes = [N(67, 0, F(3, 2)), N(69, F(3, 2), 2), N(71, 2, 2 + e), N(72, 2 + e, 3),
             N(74, 3, F(13, 4)), N(76, F(13, 4), F(7, 2)), N(77, F(7, 2), F(9, 2)), N(79, F(9, 2), 6)]
    score = make_score(notes, meter=(6, 8), tempo=120)
    abc, back = round_trip(score)
    assert "(" not in abc.split("K:", 1)[1]
    assert "Q:3/8=80" in abc
    assert back.tempo_qpm == 120 and back.meter == Meter(6, 8)


def test_tempo_round_trip():
    for meter, tempo in [((4, 4), 96), ((6, 8), 100), ((6, 8), 90), ((2, 2), 144), ((9, 8), 150)]:
        back = read_abc(write_abc(make_score([N(60, 0, 1)], meter=meter, tempo=tempo)))
        assert back.tempo_qpm == tempo


def test_bass_clef_and_multi_voice_with_empty_part():
    v1 = [N(72, 0, 1), N(74, 1, 2), N(76, 2, 4), N(77, 4, 9)]
    v2 = [N(36, 0, 4), N(43, 4, 6)]
    v3: list[Note] = []
    score = make_score(v1, v2, v3, names=["Violin", "Cello", "Silent"], programs=[40, 42, 0])
    abc, back = round_trip(score)
    assert 'V:1 name="Violin" clef=treble' in abc
    assert 'V:2 name="Cello" clef=bass' in abc
    assert "%%MIDI program 42" in abc
    assert [p.name for p in back.parts] == ["Violin", "Cello", "Silent"]
    assert [p.program for p in back.parts] == [40, 42, 0]
    assert back.parts[2].notes == []


def test_overlapping_notes_of_different_lengths_in_one_part():
    notes = [N(60, 0, 3), N(64, 1, 2), N(67, F(1, 2), F(5, 2)), N(72, F(3, 2), F(19, 4)), N(48, 0, 8)]
    round_trip(make_score(notes))


KEYS = ["C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"]


@pytest.mark.parametrize("tonic", KEYS)
def test_accidentals_in_many_keys(tonic):
    # A chromatic run, with the same letters coming back in the same bar in other spellings.
    seq = list(range(55, 81)) + [66, 65, 66, 70, 71, 70, 61, 60, 61, 60]
    notes = [N(p, F(i, 2), F(i + 1, 2)) for i, p in enumerate(seq)]
    for mode in ("major", "minor", "dorian"):
        abc, back = round_trip(make_score(notes, key=(tonic, mode)))
        # Keys needing double accidentals (Cb minor) are respelled (B minor).
        assert back.key.tonic_pc == Key(tonic, mode).tonic_pc and back.key.mode == mode
        if all(abs(a) <= 1 for a in key_signature(tonic, mode).values()):
            assert back.key == Key(tonic, mode)


def test_key_names_in_abc():
    abc = write_abc(make_score([N(60, 0, 1)], key=("A", "dorian")))
    assert "K:Ador" in abc
    assert "K:Em" in write_abc(make_score([N(60, 0, 1)], key=("E", "minor")))
    assert "K:Bbmix" in write_abc(make_score([N(60, 0, 1)], key=("Bb", "mixolydian")))


def test_explicit_accidentals_are_repeated_in_the_bar():
    # F#, F natural, F# again, in C: every F must carry its accidental.
    abc = write_abc(make_score([N(66, 0, F(1, 2)), N(65, F(1, 2), 1), N(66, 1, F(3, 2)), N(77, F(3, 2), 2)]))
    body = abc.split("%%MIDI program 0\n", 1)[1]
    assert body.startswith("^F=F ^F=f")


def test_chord_notes_never_share_a_letter_and_octave():
    abc = write_abc(make_score([N(67, 0, 1), N(68, 0, 1), N(65, 1, 2), N(66, 1, 2)]))
    assert "[G_A]" in abc and "[F^F]" not in abc
    round_trip(make_score([N(67, 0, 2), N(68, 1, 2), N(66, 0, 3), N(65, 2, 3)], key=("G", "major")))


def test_notes_without_quarter_notes_use_seconds():
    notes = [Note(60, 0.0, 0.5), Note(62, 0.5, 1.0), Note(64, 1.0, 2.0)]
    score = Score(parts=[Part("Piano", 0, notes)], tempo_qpm=120.0)
    back = read_abc(write_abc(score))
    assert spans(back) == [(60, 0, 1), (62, 1, 2), (64, 2, 4)]


def test_unit_choice():
    sixteenths = [N(60 + k % 12, F(k, 4), F(k + 1, 4)) for k in range(32)]
    assert "L:1/16" in write_abc(make_score(sixteenths))
    quarters = [N(60 + k % 12, k, k + 1) for k in range(16)]
    assert "L:1/4" in write_abc(make_score(quarters))
    eighths = [N(60 + k % 12, F(k, 2), F(k + 1, 2)) for k in range(16)]
    assert "L:1/8" in write_abc(make_score(eighths))
    round_trip(make_score(eighths), unit="1/16")


def test_empty_score_writes_a_bar_of_rests():
    abc = write_abc(Score())
    check_written(abc)
    back = read_abc(abc)
    assert len(back.parts) == 1 and back.parts[0].notes == []


def test_random_scores_round_trip():
    rng = random.Random(1234)
    for _ in range(40):
        meter = rng.choice([(4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (5, 4), (12, 8)])
        m = Meter(*meter)
        parts = []
        for _p in range(rng.randint(1, 3)):
            notes = []
            t = F(0)
            n_beats = int(m.beats_per_bar) * rng.randint(1, 5)
            for _b in range(n_beats):
                if m.is_compound:
                    steps = [m.beat_qn / 3, m.beat_qn / 6]
                else:
                    steps = [m.beat_qn / 2, m.beat_qn / 4, m.beat_qn / 3, m.beat_qn / 6, m.beat_qn]
                step = rng.choice(steps)
                end = t + m.beat_qn
                while t < end:
                    d = min(step * rng.choice([1, 1, 2, 3]), end - t)
                    if rng.random() < 0.8:
                        chord = rng.sample(range(40, 90), rng.choice([1, 1, 1, 2, 3]))
                        for p in chord:
                            extra = rng.choice([0, 0, 0, m.beat_qn, step])
                            notes.append(N(p, t, t + d + extra))
                    t += d
            # no two notes of one pitch overlapping (MIDI could not tell them apart either)
            notes.sort(key=lambda n: (n.pitch, n.onset_qn))
            clean = []
            for n in notes:
                if clean and clean[-1].pitch == n.pitch and clean[-1].offset_qn > n.onset_qn:
                    continue
                clean.append(n)
            parts.append(clean)
        pickup = rng.choice([0, 0, m.beat_qn, m.beat_qn / 3])  # also a triplet-length pickup
        key = (rng.choice(KEYS), rng.choice(["major", "minor", "mixolydian"]))
        round_trip(make_score(*parts, meter=meter, key=key, pickup=pickup), bars_per_line=rng.randint(1, 6))


# ---------------------------------------------------------------------------------------------------
# Reader details
# ---------------------------------------------------------------------------------------------------


def tune(body: str, header: str = "M:4/4\nL:1/4\n") -> str:
    return f"X:1\nT:Test\n{header}K:C\n{body}\n"


def test_accidentals_last_to_the_end_of_the_bar_in_one_octave():
    s = read_abc(tune("^F F f | F =F F"))
    assert pitches(s) == [66, 66, 77, 65, 65, 65]
    s = read_abc(tune("_B B ^^C C __D D", header="L:1/4\n"))
    assert pitches(s) == [70, 70, 62, 62, 60, 60]


def test_key_signatures_and_modes():
    assert pitches(read_abc("X:1\nK:G\nF f =F F|F")) == [66, 78, 65, 65, 66]
    assert pitches(read_abc("X:1\nK:Bb\nB E A")) == [70, 63, 69]
    assert pitches(read_abc("X:1\nK:Ador\nF C")) == [66, 60]
    assert pitches(read_abc("X:1\nK:Dmix\nC F")) == [60, 66]
    assert pitches(read_abc("X:1\nK:F# minor\nE D C G")) == [64, 62, 61, 68]
    assert pitches(read_abc("X:1\nK:F#m\nE D C G")) == [64, 62, 61, 68]
    assert pitches(read_abc("X:1\nK:F#\nE D C G")) == [65, 63, 61, 68]
    assert pitches(read_abc("X:1\nK:D =c\nC F")) == [60, 66]
    assert pitches(read_abc("X:1\nK:C exp ^f _b\nF B E")) == [66, 70, 64]
    assert pitches(read_abc("X:1\nK:none\nF B")) == [65, 71]
    assert pitches(read_abc("X:1\nK:G mix treble8\nF")) == [65]
    s = read_abc("X:1\nK:Bbmix\nE A")
    assert s.key == Key("Bb", "mixolydian") and pitches(s) == [63, 68]
    assert read_abc("X:1\nK:Em\nE").key == Key("E", "minor")
    assert read_abc("X:1\nK: A Dorian % comment\nE").key == Key("A", "dorian")
    assert read_abc("X:1\nK:Dmaj\nE").key == Key("D", "major")


def test_octaves_and_lengths():
    s = read_abc("X:1\nL:1/8\nK:C\nC, C c c' C,, A2 A/2 A/ A// A3/2 A3/ A/4 A")
    assert pitches(s) == [48, 60, 72, 84, 36] + [69] * 8
    durs = [n.offset_qn - n.onset_qn for n in s.parts[0].notes][5:]
    assert durs == [1, F(1, 4), F(1, 4), F(1, 8), F(3, 4), F(3, 4), F(1, 8), F(1, 2)]


def test_broken_rhythm():
    s = read_abc("X:1\nL:1/8\nK:C\nA>B A<B A>>B (A (<B)")
    durs = [n.offset_qn - n.onset_qn for n in s.parts[0].notes]
    assert durs == [F(3, 4), F(1, 4), F(1, 4), F(3, 4), F(7, 8), F(1, 8), F(1, 4), F(3, 4)]


def test_ties_join_notes():
    s = read_abc(tune("C2- C2 | C4- | C [CE]- [CE] [C-E] C E | ^F- | F"))
    assert spans(s) == [(60, 0, 4), (60, 4, 9), (60, 9, 11), (60, 11, 13), (64, 9, 11), (64, 11, 12),
                        (64, 13, 14), (66, 14, 16)]


def test_tuplets():
    s = read_abc("X:1\nM:4/4\nL:1/8\nK:C\n(3ABc (3:2:4A/B/c/d/ (3A2B2c2 | (5ABcde (3::2A2B")
    t = [n.onset_qn for n in s.parts[0].notes]
    assert t[:3] == [0, F(1, 3), F(2, 3)]
    assert t[3:7] == [1, F(7, 6), F(4, 3), F(3, 2)]
    assert t[7:10] == [F(5, 3), F(7, 3), 3]  # quarter triplet
    assert s.parts[0].notes[11].onset_qn - s.parts[0].notes[10].onset_qn == F(1, 5)
    # bar 1 lasts 1 + 2/3 + 2 = 11/3; (5 fits five eighths into two; (3::2 = 3 in 2 for two notes
    assert s.parts[0].notes[-1].offset_qn == F(11, 3) + 1 + 1
    s = read_abc("X:1\nM:6/8\nL:1/8\nK:C\n(2AB c")
    assert [n.onset_qn for n in s.parts[0].notes] == [0, F(3, 4), F(3, 2)]


def test_chords():
    s = read_abc("X:1\nL:1/8\nK:C\n[CEG]2 [C2E2G2] [CE]/[DF]/ [c4e2] d")
    assert spans(s) == [(60, 0, 1), (60, 1, 2), (60, 2, F(9, 4)), (62, F(9, 4), F(5, 2)), (64, 0, 1),
                        (64, 1, 2), (64, 2, F(9, 4)), (65, F(9, 4), F(5, 2)), (67, 0, 1), (67, 1, 2),
                        (72, F(5, 2), F(9, 2)), (74, F(9, 2), 5), (76, F(5, 2), F(7, 2))]


def test_rests_and_multibar_rests():
    s = read_abc(tune("z2 x2 | Z2 | C"))
    assert spans(s) == [(60, 12, 13)]
    s = read_abc("X:1\nM:3/4\nL:1/8\nK:C\nZ | X3 | C")
    assert spans(s) == [(60, 12, F(25, 2))]


def test_inline_fields_and_default_unit():
    s = read_abc("X:1\nM:4/4\nL:1/8\nK:C\nF [K:G] F [L:1/4] A [M:3/4] | [Q:1/4=90] c")
    assert pitches(s) == [65, 66, 69, 72]
    assert s.parts[0].notes[2].offset_qn - s.parts[0].notes[2].onset_qn == 1
    assert s.tempo_qpm == 90
    two_four = read_abc("X:1\nM:2/4\nK:C\nA")
    assert two_four.parts[0].notes[0].offset_qn == F(1, 4)
    three_four = read_abc("X:1\nM:3/4\nK:C\nA")
    assert three_four.parts[0].notes[0].offset_qn == F(1, 2)
    no_meter = read_abc("X:1\nK:C\nA")
    assert no_meter.parts[0].notes[0].offset_qn == F(1, 2)


@pytest.mark.parametrize("q, qpm", [("1/4=120", 120), ("3/8=80", 120), ("1/2=60", 120), ("120", 60),
                                    ('"Allegro" 1/4=132', 132), ("1/8=200", 100), ('"Slow"', 120)])
def test_tempo_forms(q, qpm):
    assert read_abc(f"X:1\nM:4/4\nL:1/8\nQ:{q}\nK:C\nA").tempo_qpm == qpm


def test_seconds_follow_the_tempo():
    s = read_abc("X:1\nL:1/4\nQ:1/4=60\nK:C\nA B2")
    n = s.parts[0].notes
    assert (n[1].onset_s, n[1].offset_s) == (1.0, 3.0)
    assert n[0].velocity == 80


def test_several_tunes():
    text = "% file header\n\nX:1\nT:One\nK:C\nC\n\nX:2\nT:Two\nK:C\nD E\n"
    assert len(split_tunes(text)) == 2
    assert read_abc(text).title == "One"
    s = read_abc(text, tune_index=1)
    assert s.title == "Two" and pitches(s) == [62, 64]
    assert s.parts[0].name == "Two"
    with pytest.raises(NotationError):
        read_abc(text, tune_index=5)


def test_voices_names_and_programs():
    text = ("X:1\nT:Duo\nM:4/4\nL:1/4\n%%MIDI program 73\nV:1 name=\"Flute\"\nV:2 nm=\"Cello\" clef=bass\n"
            "K:C\nV:1\nc d e f|\nV:2\n%%MIDI program 42\nC, D, E, F,|\n[V:1] g4|]\n[V:2] G,4|]\n")
    s = read_abc(text)
    assert [p.name for p in s.parts] == ["Flute", "Cello"]
    assert [p.program for p in s.parts] == [73, 42]
    assert pitches(s, 0) == [72, 74, 76, 77, 79]
    assert pitches(s, 1) == [48, 50, 52, 53, 55]
    assert s.parts[1].notes[-1].onset_qn == 4


def test_unnamed_voices_and_single_voice_names():
    s = read_abc("X:1\nK:C\nV:A\nC\nV:B\nD\n")
    assert [p.name for p in s.parts] == ["Voice A", "Voice B"]
    assert read_abc("X:1\nK:C\nC").parts[0].name == "Melody"


def test_decorations_grace_notes_chord_symbols_and_comments_are_skipped():
    s = read_abc('X:1\nL:1/4\nK:C\n"Am"!trill!{g}A .B ~c "^text"d +fermata+e Hf !>!g % C D\nw: la la\nTA uB vc')
    assert pitches(s) == [69, 71, 72, 74, 76, 77, 79, 69, 71, 72]


def test_line_continuation_and_slurs():
    s = read_abc("X:1\nL:1/4\nK:C\n(AB) \\\n(cd)|\n")
    assert pitches(s) == [69, 71, 72, 74]


def test_bar_lines_and_repeats():
    text = "X:1\nM:2/4\nL:1/4\nK:C\n|: C D :|: E F [1 G A :|2 B c || [|d e|]\n"
    s = read_abc(text)
    assert pitches(s) == [60, 62, 64, 65, 67, 69, 71, 72, 74, 76]
    s = read_abc(text, expand_repeats=True)
    assert pitches(s) == [60, 62, 60, 62, 64, 65, 67, 69, 64, 65, 71, 72, 74, 76]
    assert s.parts[0].notes[-1].offset_qn == 14
    s = read_abc("X:1\nM:2/4\nL:1/4\nK:C\nC D :| E F |1 G A :|2 B c |]\n", expand_repeats=True)
    assert pitches(s) == [60, 62, 60, 62, 64, 65, 67, 69, 64, 65, 71, 72]


def test_pickup_detection():
    s = read_abc("X:1\nM:4/4\nL:1/4\nK:C\nG | c d e f | g4 |]")
    assert s.pickup_qn == 1
    assert read_abc("X:1\nM:4/4\nL:1/4\nK:C\nc d e f | g4 |]").pickup_qn == 0
    assert read_abc("X:1\nM:6/8\nL:1/8\nK:C\n|: G | c2c d2d :|").pickup_qn == F(1, 2)


def test_voice_overlay():
    s = read_abc("X:1\nM:4/4\nL:1/4\nK:C\nc d e f & C4 | g4 |]")
    assert spans(s) == [(60, 0, 4), (72, 0, 1), (74, 1, 2), (76, 2, 3), (77, 3, 4), (79, 4, 8)]


def test_prose_and_code_fences_around_a_tune():
    text = "Here is a tune:\n```abc\nX:1\nT:Song\nM:4/4\nL:1/4\nK:C\nC D E F|\n```\n\nHope you like it!\n"
    s = read_abc(text)
    assert pitches(s) == [60, 62, 64, 65]
    assert pitches(read_abc("T:No X\nM:4/4\nL:1/4\nK:C\nC D|")) == [60, 62]
    text = "X:1\nL:1/4\nK:C\nC D | % one\n\nE F | % two +trill+\n\n+fermata+G4 |]\n\nThat is all.\nabc"
    assert pitches(read_abc(text)) == [60, 62, 64, 65, 67]


def test_warnings_for_odd_text():
    _, warnings = read_abc_with_warnings(tune("C D E F | C D E | C D E F | C ? D"))
    assert any("bar 2" in w for w in warnings)
    assert any("'?'" in w for w in warnings)


@pytest.mark.parametrize("text", ["", "   \n", "hello world", "X:1\nT:No key\nABC|", "X:1\nK:C\n",
                                  "X:1\nK:C\n% only a comment\n", "<html><body>nope</body></html>"])
def test_unparsable_text_raises_notation_error(text):
    with pytest.raises(NotationError) as info:
        read_abc(text)
    assert "\n" not in str(info.value)


def test_fuzz_never_raises_anything_but_notation_error():
    rng = random.Random(7)
    base = tune('|: "G"A>B (3cde [CEG]2 z/ ^f_g=a [K:D] {g}f2- f | [1 A,,B, :|2 c\'d\' |]\n'
                'V:2\n[V:2] C4 & E4 | Z2 |', header="M:6/8\nL:1/8\nQ:3/8=90\n")
    alphabet = "ABCDEFGabcdefgzZxX[]()|:{}!+\"'^_=,/<>-0123456789 \n%&KLMVQ.~\\"
    for _ in range(400):
        kind = rng.random()
        if kind < 0.3:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
            if rng.random() < 0.5:
                text = "X:1\nK:C\n" + text
        else:
            chars = list(base)
            for _ in range(rng.randint(1, 12)):
                op = rng.random()
                pos = rng.randrange(len(chars) + 1)
                if op < 0.4:
                    chars.insert(pos, rng.choice(alphabet))
                elif op < 0.8 and chars:
                    del chars[min(pos, len(chars) - 1)]
                else:
                    chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
            text = "".join(chars)
        try:
            score = read_abc(text)
        except NotationError:
            continue
        # Whatever it read, it can write and read back (exactly, when on the writer's grid).
        abc = write_abc(score)
        back = read_abc(abc)
        if on_grid(score):
            assert note_tuples(back) == note_tuples(score)


def test_files(tmp_path):
    score = make_score([N(60, 0, 1), N(64, 1, 2)], names=["Oboe"], programs=[68])
    path = write_abc_file(score, tmp_path / "out" / "tune.abc")
    assert path.exists()
    back = read_abc_file(path)
    assert note_tuples(back) == note_tuples(score) and back.parts[0].program == 68
    with pytest.raises(NotationError, match="missing.abc"):
        read_abc_file(tmp_path / "missing.abc")
    (tmp_path / "bad.abc").write_text("no music here")
    with pytest.raises(NotationError, match="bad.abc"):
        read_abc_file(tmp_path / "bad.abc")


# ---------------------------------------------------------------------------------------------------
# Real-world corpora: read -> write -> read
# ---------------------------------------------------------------------------------------------------


def _sample_tunes(files: list[Path], count: int) -> list[tuple[str, int, str]]:
    tunes = []
    for f in files:
        for i, t in enumerate(split_tunes(f.read_text(encoding="utf-8", errors="replace"))):
            tunes.append((f.name, i, t))
    step = max(1, len(tunes) // count)
    return tunes[::step][:count]


def _corpus_round_trip(samples: list[tuple[str, int, str]]) -> int:
    checked = 0
    for name, idx, text in samples:
        try:
            score = read_abc(text)
        except NotationError:
            continue
        abc = write_abc(score)
        back = read_abc(abc)
        where = f"{name} tune {idx}"
        if on_grid(score):
            assert note_tuples(back) == note_tuples(score), where
        else:  # quintuplets and the like are snapped to the grid
            assert [len(p) for p in note_tuples(back)] == [len(p) for p in note_tuples(score)], where
        assert (back.meter, back.key, back.tempo_qpm, back.pickup_qn) == \
            (score.meter, score.key, score.tempo_qpm, score.pickup_qn), where
        assert [(p.name, p.program) for p in back.parts] == [(p.name, p.program) for p in score.parts], where
        check_written(abc, score.pickup_qn)
        checked += 1
    return checked


@pytest.mark.skipif(not NOTTINGHAM_DIR.is_dir(), reason="Nottingham ABC files not available")
def test_nottingham_round_trip():
    samples = _sample_tunes(sorted(NOTTINGHAM_DIR.glob("*.abc")), 100)
    assert _corpus_round_trip(samples) == 100


@pytest.mark.skipif(_music21_corpus() is None, reason="music21 corpus not available")
def test_music21_corpus_round_trip():
    corpus = _music21_corpus()
    files = sorted(p for p in corpus.rglob("*.abc") if "nottingham" not in str(p))
    # Take a few tunes from every collection (folk tunes, Aird's airs with V: fields, Josquin).
    by_dir: dict[str, list[Path]] = {}
    for f in files:
        by_dir.setdefault(f.parent.name, []).append(f)
    samples = []
    for folder in sorted(by_dir):
        samples += _sample_tunes(by_dir[folder][:6], 8)
    assert len(samples) >= 40
    assert _corpus_round_trip(samples) >= 40


# ---------------------------------------------------------------------------------------------------
# External checks: abc2midi accepts the output; music21 reads the same pitches as we do
# ---------------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi not installed")
def test_abc2midi_accepts_written_abc(tmp_path):
    t = F(1, 3)
    scores = [
        make_score([N(60, 0, 2), N(64, 0, 2), N(67, 0, 3), N(62, 2, 2 + t), N(63, 2 + t, 2 + 2 * t),
                    N(66, 2 + 2 * t, 3), N(70, 3, F(17, 4)), N(73, F(17, 4), 6)],
                   [N(36, 0, 4), N(43, 4, 8)], names=["Piano", "Bass"], programs=[0, 32]),
        make_score([N(67, 0, F(1, 2)), N(72, F(1, 2), 2), N(74, 2, F(7, 2))], meter=(6, 8), pickup=F(1, 2),
                   key=("Bb", "dorian")),
        make_score([N(p, F(i, 2), F(i + 1, 2)) for i, p in enumerate(range(55, 81))], key=("F#", "major")),
        make_score([N(60, 0, 1), N(64, 1, 2), N(67, F(1, 2), F(5, 2))], key=("A", "aeolian"), tempo=77),
        Score(),
    ]
    if NOTTINGHAM_DIR.is_dir():
        scores += [read_abc(t) for _, _, t in _sample_tunes(sorted(NOTTINGHAM_DIR.glob("*.abc")), 10)]
    for k, score in enumerate(scores):
        abc = write_abc(score)
        assert abc2midi_errors(abc, tmp_path, f"s{k}") == [], abc


def _music21_onsets_and_pitches(text: str) -> list[tuple[F, int]]:
    import music21

    s = music21.converter.parse(text, format="abc")
    out = []
    for n in s.flatten().notes:
        if n.duration.isGrace or isinstance(n, music21.harmony.ChordSymbol):
            continue
        if n.tie is not None and n.tie.type in ("stop", "continue"):
            continue
        for p in sorted({p.midi for p in n.pitches}):
            out.append((F(n.offset).limit_denominator(96), p))
    return sorted(out)


@pytest.mark.skipif(_music21_corpus() is None or not NOTTINGHAM_DIR.is_dir(),
                    reason="music21 or Nottingham files not available")
def test_reader_agrees_with_music21():
    tunes = split_tunes((NOTTINGHAM_DIR / "jigs.abc").read_text())
    for idx in (0, 6, 12):
        ours = sorted((n.onset_qn, n.pitch) for n in read_abc(tunes[idx]).parts[0].notes)
        assert ours == _music21_onsets_and_pitches(tunes[idx]), f"jigs.abc tune {idx}"
