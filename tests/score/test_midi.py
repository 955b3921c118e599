from fractions import Fraction as F

import pretty_midi
import pytest

from musicllm.errors import NotationError
from musicllm.score.midi import read_midi, score_to_pretty_midi, write_midi
from musicllm.score.model import Key, Meter, Note, Part, Score


def _qn_note(pitch, on, off, tempo=100.0, velocity=80):
    spq = 60.0 / tempo
    return Note(pitch, float(on) * spq, float(off) * spq, velocity, F(on), F(off))


def _score(tempo=100.0):
    piano = Part("Piano", 0, [_qn_note(p, on, off, tempo) for p, on, off in [
        (48, 0, 3), (55, 0, 3), (64, F(1, 2), 1), (67, 1, F(4, 3)), (69, F(4, 3), F(5, 3)), (71, F(5, 3), 2),
        (72, 3, F(9, 2))]])
    violin = Part("Violin", 40, [_qn_note(p, on, off, tempo, 100) for p, on, off in [
        (76, 0, F(3, 2)), (78, F(3, 2), 3), (79, 3, 6)]])
    drums = Part("Drums", 0, [_qn_note(36, q, q + F(1, 4), tempo) for q in range(6)], is_drum=True)
    return Score(parts=[piano, violin, drums], tempo_qpm=tempo, meter=Meter(3, 4), key=Key("E", "minor"),
                 title="Round trip")


def test_midi_round_trip(tmp_path):
    s = _score()
    path = write_midi(s, tmp_path / "out" / "x.mid")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["x.mid"]  # no temporary file left behind
    r = read_midi(path)
    assert r.title == "Round trip"
    assert r.tempo_qpm == pytest.approx(100.0, abs=1e-3)
    assert r.meter == Meter(3, 4)
    assert r.key == Key("E", "minor")
    assert [(p.name, p.program, p.is_drum) for p in r.parts] == [
        ("Piano", 0, False), ("Violin", 40, False), ("Drums", 0, True)]
    for a, b in zip(s.parts, r.parts, strict=True):
        na, nb = a.sorted_notes(), b.sorted_notes()
        assert [n.pitch for n in na] == [n.pitch for n in nb]
        for x, y in zip(na, nb, strict=True):
            assert abs(x.onset_s - y.onset_s) < 1e-3
            assert abs(x.offset_s - y.offset_s) < 1e-3
            assert x.velocity == y.velocity
            # Exact quarter notes from ticks.
            assert y.onset_qn == x.onset_qn and y.offset_qn == x.offset_qn
            assert isinstance(y.onset_qn, F)
    # Implied beat grid: 3/4 at 100 qpm -> a beat every 0.6 s, a downbeat every 1.8 s.
    assert r.beat_times_s[:3] == pytest.approx([0.0, 0.6, 1.2])
    assert r.downbeat_times_s[:2] == pytest.approx([0.0, 1.8])


@pytest.mark.parametrize("key", ["Gb major", "F# major", "Bb minor", "C# minor", "A major", "D dorian"])
def test_midi_key_signature_spelling(tmp_path, key):
    s = _score()
    s.key = Key.parse(key)
    r = read_midi(write_midi(s, tmp_path / "k.mid"))
    assert r.key == s.key.simplified()


def test_unquantised_seconds_survive_to_a_millisecond(tmp_path):
    notes = [Note(60 + i % 12, 0.137 * i + 0.0123, 0.137 * i + 0.2, 70) for i in range(200)]
    s = Score(parts=[Part("Guitar", 25, notes)], tempo_qpm=73.3)
    r = read_midi(write_midi(s, tmp_path / "u.mid"))
    assert r.tempo_qpm == pytest.approx(73.3, abs=1e-3)
    got = r.parts[0].sorted_notes()
    for x, y in zip(sorted(notes, key=lambda n: n.onset_s), got, strict=True):
        assert abs(x.onset_s - y.onset_s) < 1e-3 and abs(x.offset_s - y.offset_s) < 1e-3
    assert r.key == Key("C", "major")


def test_score_to_pretty_midi():
    pm = score_to_pretty_midi(_score())
    assert isinstance(pm, pretty_midi.PrettyMIDI)
    assert [i.program for i in pm.instruments] == [0, 40, 0]
    assert pm.instruments[2].is_drum
    assert pm.get_tempo_changes()[1][0] == pytest.approx(100.0, abs=1e-3)


def test_zero_length_note_is_kept(tmp_path):
    s = Score(parts=[Part("P", 0, [Note(60, 1.0, 1.0)])])
    r = read_midi(write_midi(s, tmp_path / "z.mid"))
    assert len(r.parts[0].notes) == 1
    assert r.parts[0].notes[0].duration_s > 0


def test_bad_midi_files(tmp_path):
    with pytest.raises(NotationError, match="missing.mid"):
        read_midi(tmp_path / "missing.mid")
    bad = tmp_path / "text.mid"
    bad.write_text("this is not a MIDI file\n")
    with pytest.raises(NotationError, match="text.mid"):
        read_midi(bad)
    cut = tmp_path / "cut.mid"
    cut.write_bytes(write_midi(_score(), tmp_path / "ok.mid").read_bytes()[:30])
    with pytest.raises(NotationError, match="cut.mid"):
        read_midi(cut)
