import json
from fractions import Fraction as F

import pytest

from musicllm.errors import NotationError
from musicllm.score.jsonio import (
    implied_beat_grid,
    read_json,
    score_from_dict,
    score_to_dict,
    score_to_json,
    write_json,
)
from musicllm.score.model import Key, Meter, Note, Part, Score


def _score():
    return Score(
        parts=[Part("Violin", 40, [Note(76, 0.123456, 0.623456, 90, F(1, 3), F(4, 3)), Note(74, 1.0, 1.5, 70)]),
               Part("Kit", 0, [Note(36, 0.0, 0.1, 100, F(0), F(1, 4))], is_drum=True)],
        tempo_qpm=90.0, meter=Meter(3, 4), key=Key("G", "major"), title="T",
        beat_times_s=[0.0, 0.66667, 1.33333, 2.0], downbeat_times_s=[0.0, 2.0], duration_s=2.5)


def test_contract_keys():
    d = json.loads(score_to_json(_score()))
    for k in ("duration_s", "tempo_bpm", "tempo_qpm", "beat_unit", "meter", "key", "beats", "downbeats", "title",
              "parts"):
        assert k in d
    assert d["tempo_bpm"] == d["tempo_qpm"] == 90.0
    assert d["beat_unit"] == "quarter"
    assert d["meter"] == "3/4" and d["key"] == "G major"
    assert d["beats"] == [0.0, 0.6667, 1.3333, 2.0]
    assert d["duration_s"] == 2.5
    p = d["parts"][0]
    assert p["name"] == "Violin" and p["program"] == 40
    n0, n1 = p["notes"]
    assert n0 == {"onset_s": 0.1235, "offset_s": 0.6235, "pitch": 76, "velocity": 90,
                  "onset_qn": pytest.approx(1 / 3), "offset_qn": pytest.approx(4 / 3)}
    assert n1["onset_qn"] is None and n1["offset_qn"] is None
    assert d["parts"][1]["is_drum"] is True


def test_minor_and_modal_keys():
    s = _score()
    s.key = Key("E", "minor")
    assert score_to_dict(s)["key"] == "E minor"
    s.key = Key("A", "dorian")
    d = score_to_dict(s)
    assert d["key"] == "A minor" and d["key_mode"] == "A dorian"
    assert score_from_dict(d).key == Key("A", "dorian")


def test_round_trip(tmp_path):
    s = _score()
    path = write_json(s, tmp_path / "a" / "s.json", extra={"source": "x.wav"})
    assert json.loads(path.read_text())["source"] == "x.wav"
    r = read_json(path)
    assert (r.tempo_qpm, r.meter, r.key, r.title, r.duration_s) == (90.0, Meter(3, 4), Key("G", "major"), "T", 2.5)
    assert r.beat_times_s == [0.0, 0.6667, 1.3333, 2.0]
    assert [(p.name, p.program, p.is_drum) for p in r.parts] == [("Violin", 40, False), ("Kit", 0, True)]
    a = r.parts[0].notes[0]
    assert (a.pitch, a.velocity, a.onset_qn, a.offset_qn) == (76, 90, F(1, 3), F(4, 3))
    assert r.parts[0].notes[1].onset_qn is None
    assert score_to_dict(r) == score_to_dict(s)


def test_implied_beats_when_the_score_has_none():
    s = Score(parts=[Part("P", 0, [Note(60, 0.0, 3.0)])], tempo_qpm=120.0, meter=Meter(6, 8))
    d = score_to_dict(s)
    # 6/8 at 120 qpm: the felt beat is a dotted quarter (0.75 s), a bar lasts 1.5 s.
    assert d["beats"] == [0.0, 0.75, 1.5, 2.25]
    assert d["downbeats"] == [0.0, 1.5]


def test_implied_grid_with_pickup():
    s = Score(parts=[Part("P", 0, [Note(60, 0.0, 2.5)])], tempo_qpm=60.0, meter=Meter(3, 4), pickup_qn=F(1))
    beats, downbeats = implied_beat_grid(s)
    assert beats == [0.0, 1.0, 2.0]
    assert downbeats == [1.0]


def test_extra_cannot_replace_contract_keys():
    with pytest.raises(ValueError, match="tempo_bpm"):
        score_to_dict(_score(), extra={"tempo_bpm": 1})


def test_bad_json_files(tmp_path):
    with pytest.raises(NotationError, match="missing.json"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NotationError, match="bad.json"):
        read_json(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"parts": [{"notes": [{"pitch": 60}]}]}))
    with pytest.raises(NotationError, match="wrong.json"):
        read_json(wrong)
    with pytest.raises(NotationError, match="wrong2.json"):
        (tmp_path / "wrong2.json").write_text(json.dumps({"meter": "x/4"}))
        read_json(tmp_path / "wrong2.json")
