import time
import xml.etree.ElementTree as ET
from fractions import Fraction as F

import pytest

from musicllm.errors import NotationError
from musicllm.score.model import Key, Meter, Note, Part, Score
from musicllm.score.musicxml import (
    read_musicxml,
    score_to_music21,
    score_to_musicxml,
    split_value,
    write_musicxml,
)


def _notes(seq, start=F(0), tempo=120.0, velocity=80):
    """seq: (pitch | [pitches] | None, length in quarter notes)."""
    spq = 60.0 / tempo
    out, q = [], F(start)
    for p, d in seq:
        d = F(d)
        for pitch in ([] if p is None else p if isinstance(p, list) else [p]):
            out.append(Note(pitch, float(q) * spq, float(q + d) * spq, velocity, q, q + d))
        q += d
    return out


def _score(meter="4/4", key="D minor", pickup=F(0)):
    melody = [(69, F(1, 2)), (70, F(1, 2)), (72, F(3, 2)), (70, F(1, 2)), (69, 1), (67, F(1, 3)), (69, F(1, 3)),
              (70, F(1, 3)), (73, 2), (74, 3), (None, F(1, 2)), (76, F(1, 4)), (77, F(1, 4)), (79, F(3, 4)),
              (77, F(1, 4)), (76, F(1, 2)), (74, F(1, 2)), (73, 1), (74, 4)]
    chords = [([50, 57], 2), ([46, 53], 2), ([45, 52], 4), ([50, 57], 2), (43, 1), (45, 1), (45, 2), (None, 2),
              (50, 4)]
    inner = [(62, 1), (65, 1), (62, 2), (61, 4)]  # overlaps the chords: a second voice
    return Score(parts=[Part("Flute", 73, _notes(melody, pickup)),
                        Part("Piano", 0, _notes(chords, pickup) + _notes(inner, pickup)),
                        Part("Drums", 0, _notes([(36, 1), (38, 1)] * 4, pickup), is_drum=True)],
                 tempo_qpm=120.0, meter=Meter.parse(meter), key=Key.parse(key), title="Demo & test",
                 pickup_qn=pickup)


def _same_notes(a: Score, b: Score):
    assert len(a.parts) == len(b.parts)
    for pa, pb in zip(a.parts, b.parts, strict=True):
        want = sorted((n.pitch, n.onset_qn, n.offset_qn) for n in pa.notes)
        got = sorted((n.pitch, n.onset_qn, n.offset_qn) for n in pb.notes)
        assert got == want, pa.name


@pytest.mark.parametrize("meter,key,pickup", [("4/4", "D minor", F(0)), ("6/8", "G major", F(1, 2)),
                                               ("3/4", "Eb major", F(1))])
def test_musicxml_round_trip(tmp_path, meter, key, pickup):
    s = _score(meter, key, pickup)
    path = write_musicxml(s, tmp_path / "x.musicxml")
    r = read_musicxml(path)
    _same_notes(s, r)
    assert r.title == "Demo & test"
    assert r.tempo_qpm == pytest.approx(120.0)
    assert r.meter == Meter.parse(meter)
    assert r.key == Key.parse(key)
    assert r.pickup_qn == pickup
    assert [(p.name, p.program, p.is_drum) for p in r.parts] == [
        ("Flute", 73, False), ("Piano", 0, False), ("Drums", 0, True)]
    # Seconds follow from the tempo.
    first = r.parts[0].sorted_notes()[0]
    assert first.onset_s == pytest.approx(float(pickup) * 0.5)
    # Velocities survive through the <note dynamics> attribute.
    assert {n.velocity for n in r.parts[0].notes} == {80}


def test_mxl_round_trip(tmp_path):
    s = _score()
    r = read_musicxml(write_musicxml(s, tmp_path / "x.mxl"))
    _same_notes(s, r)


def test_notation_details():
    xml = score_to_musicxml(_score())
    root = ET.fromstring(xml.split("\n", 2)[2])  # skip the XML declaration and doctype
    assert root.tag == "score-partwise"
    part = root.find("part")
    measures = part.findall("measure")
    assert [m.get("number") for m in measures[:2]] == ["1", "2"]
    attrs = measures[0].find("attributes")
    assert attrs.findtext("key/fifths") == "-1" and attrs.findtext("key/mode") == "minor"
    assert attrs.findtext("time/beats") == "4"
    assert measures[0].find("direction/sound").get("tempo") == "120.0"
    # The triplet is bracketed; C# (the raised leading tone of D minor) is spelt C#, with its accidental.
    assert len(part.findall(".//tuplet")) == 2
    c_sharp = [n for n in part.iter("note") if n.findtext("pitch/step") == "C" and n.findtext("pitch/alter") == "1"]
    assert c_sharp and c_sharp[0].findtext("accidental") == "sharp"
    # The tied D: a tie across the barline.
    assert part.findall(".//tie[@type='start']")
    # The piano's two voices meet with a <backup>.
    piano = root.findall("part")[1]
    assert piano.find("measure/backup") is not None
    assert {v.text for v in piano.iter("voice")} == {"1", "2"}


def test_bars_pad_with_rests_and_end_with_final_barline():
    s = Score(parts=[Part("P", 0, _notes([(60, 1)]))], meter=Meter(3, 4))
    root = ET.fromstring(score_to_musicxml(s).split("\n", 2)[2])
    m = root.find("part/measure")
    assert sum(int(n.findtext("duration")) for n in m.iter("note")) == 3 * 48
    assert m.find("barline/bar-style").text == "light-heavy"


def test_a_part_without_notes_gets_whole_bar_rests():
    s = Score(parts=[Part("P", 0, _notes([(60, 8)])), Part("Empty", 41, [])])
    root = ET.fromstring(score_to_musicxml(s).split("\n", 2)[2])
    empty = root.findall("part")[1]
    measures = empty.findall("measure")
    assert len(measures) == 2
    assert all(m.find("note/rest").get("measure") == "yes" for m in measures)


def test_unquantised_notes_snap_to_a_twelfth(tmp_path):
    notes = [Note(60, 0.0, 0.49), Note(62, 0.51, 0.83), Note(64, 0.84, 1.26)]  # 120 qpm
    s = Score(parts=[Part("P", 0, notes)], tempo_qpm=120.0)
    r = read_musicxml(write_musicxml(s, tmp_path / "u.musicxml"))
    got = [(n.pitch, n.onset_qn, n.offset_qn) for n in r.parts[0].sorted_notes()]
    assert got == [(60, F(0), F(1)), (62, F(1), F(5, 3)), (64, F(5, 3), F(5, 2))]


def test_many_overlapping_notes_are_cut_not_lost(tmp_path):
    notes = [Note(60 + i, 0, 0, 80, F(i, 2), F(i, 2) + 4) for i in range(8)]
    s = Score(parts=[Part("P", 0, notes)])
    r = read_musicxml(write_musicxml(s, tmp_path / "o.musicxml"))
    got = sorted((n.pitch, n.onset_qn) for n in r.parts[0].notes)
    assert got == sorted((n.pitch, n.onset_qn) for n in notes)


def test_empty_score_writes_valid_musicxml(tmp_path):
    r = read_musicxml(write_musicxml(Score(), tmp_path / "e.musicxml"))
    assert len(r.parts) == 1 and not r.parts[0].notes


def test_score_to_music21():
    m21 = score_to_music21(_score())
    assert len(m21.parts) == 3
    assert len(m21.parts[0].flatten().notes) > 10


@pytest.mark.parametrize("start,length,meter,want", [
    (0, F(3, 2), "4/4", [F(3, 2)]),
    (F(1, 2), F(3, 2), "4/4", [F(1, 2), 1]),
    (1, 3, "4/4", [3]),
    (1, 2, "3/4", [2]),
    (0, 2, "6/8", [F(3, 2), F(1, 2)]),
    (1, 3, "2/2", [1, 2]),
    (F(1, 4), F(7, 4), "4/4", [F(1, 4), F(1, 2), 1]),
    (0, F(5, 2), "6/8", [F(3, 2), 1]),
    (F(1, 2), 1, "6/8", [1]),
    (0, 3, "3/4", [3]),
    (F(1, 3), F(2, 3), "4/4", [F(1, 3), F(1, 3)]),
])
def test_split_value(start, length, meter, want):
    assert list(split_value(F(start), F(length), Meter.parse(meter))) == [F(w) for w in want]


def test_long_score_writes_fast(tmp_path):
    import random

    rnd = random.Random(1)
    parts = []
    for pi in range(4):
        notes, q = [], F(0)
        for _ in range(500):
            d = rnd.choice([F(1, 4), F(1, 3), F(1, 2), F(1), F(3, 2)])
            notes.append(Note(rnd.randint(48, 80), 0, 0, 80, q, q + d))
            q += d
        parts.append(Part(f"P{pi}", pi, notes))
    s = Score(parts=parts)
    t = time.process_time()
    write_musicxml(s, tmp_path / "long.musicxml")
    assert time.process_time() - t < 5.0


def test_bad_musicxml_files(tmp_path):
    with pytest.raises(NotationError, match="nope.musicxml"):
        read_musicxml(tmp_path / "nope.musicxml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<html><body>not music</body></html>")
    with pytest.raises(NotationError, match="bad.xml"):
        read_musicxml(bad)
    with pytest.raises(NotationError, match="is a folder"):
        read_musicxml(tmp_path)
