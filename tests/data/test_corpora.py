"""Corpora: music21 collections and folders of ABC, MIDI and MusicXML (musicllm.data.corpora)."""

from __future__ import annotations

from fractions import Fraction

import pretty_midi
import pytest
from dataset_corpus import make_corpus

from musicllm.data.corpora import (
    PieceError,
    detect_license,
    iter_pieces,
    list_pieces,
    load_piece,
    music21_collections,
    tune_type,
)
from musicllm.errors import MusicLLMError
from musicllm.score.model import Key, Meter


def test_music21_abc_collection():
    refs = list_pieces("music21:oneills1850", limit=3)
    assert len(refs) == 3 and "oneills1850" in music21_collections()
    assert [r.piece_id for r in refs] == [f"oneills1850/{refs[0].rel_path}#{i}" for i in range(3)]
    piece = load_piece(refs[0])
    assert piece.title == "The Enchanted Valley"
    assert piece.meter == Meter(2, 4) and piece.key == Key("G", "minor")
    assert piece.ref.license.startswith("public domain")
    notes = piece.score.parts[0].notes
    assert len(notes) > 20 and all(isinstance(n.onset_qn, Fraction) for n in notes)
    # Repeats are expanded, so the piece is longer than the written bars.
    assert max(n.offset_qn for n in notes) >= 12 * piece.meter.bar_qn


def test_music21_chorale_alias_infers_the_mode():
    refs = list_pieces("music21:bach-chorales", limit=1)
    piece = load_piece(refs[0])
    assert refs[0].collection == "bach-chorales" and refs[0].fmt == "musicxml"
    assert len(piece.score.parts) >= 4 and piece.tune_type == "chorale" and piece.title.startswith("Chorale BWV")
    assert piece.key_known and piece.key.mode in ("major", "minor", "dorian")
    # The final bass note is the tonic (major, minor) or a tone above the signature's major tonic (dorian).
    bass = piece.score.parts[-1].notes
    last = max(n.onset_qn for n in bass)
    final_pc = min(n.pitch for n in bass if n.onset_qn == last) % 12
    assert final_pc == piece.key.tonic_pc


def test_folder_of_abc_midi_musicxml_with_a_broken_file(tmp_path):
    folder = make_corpus(tmp_path / "mycorpus", with_scores=True)
    refs = list_pieces(str(folder))
    ids = [r.piece_id for r in refs]
    assert ids == ["mycorpus/broken.mid", "mycorpus/more/reel.abc#0", "mycorpus/reel.mid", "mycorpus/reel.musicxml",
                   "mycorpus/tunes.abc#0", "mycorpus/tunes.abc#1", "mycorpus/tunes.abc#2"]
    failures = []
    pieces = {p.piece_id: p for p in iter_pieces(str(folder), failures=failures)}
    assert {(f.piece_id, f.reason) for f in failures} == {("mycorpus/broken.mid", "unreadable"),
                                                          ("mycorpus/tunes.abc#2", "meter changes")}
    assert all(f.detail for f in failures)
    jig = pieces["mycorpus/tunes.abc#0"]
    assert (jig.title, jig.tune_type, jig.origin, jig.has_tempo) == ("Test Jig", "jig", "Ireland", True)
    assert jig.meter == Meter(6, 8) and jig.key == Key("G", "major") and jig.score.tempo_qpm == 150
    two = pieces["mycorpus/tunes.abc#1"]
    assert len(two.score.parts) == 2 and two.composer == "Anon" and not two.has_tempo
    # The reel read from ABC, MIDI and MusicXML has the same notes in quarter notes.
    def notes(p):
        return [(n.pitch, n.onset_qn, n.offset_qn) for n in p.score.parts[0].notes]
    abc = pieces["mycorpus/more/reel.abc#0"]
    assert notes(pieces["mycorpus/reel.mid"]) == notes(abc) == notes(pieces["mycorpus/reel.musicxml"])
    assert pieces["mycorpus/reel.mid"].key == Key("D", "major") and pieces["mycorpus/reel.musicxml"].key_known
    meta = abc.metadata()
    assert (meta["collection"], meta["license"], meta["source_file"], meta["tune_type"]) == \
        ("mycorpus", "MIT", "more/reel.abc", "reel")
    assert meta["meter"] == "4/4" and meta["key"] == "D major" and meta["source_tempo_qpm"] is None
    named = list_pieces(f"reels={folder / 'more'}")
    assert [r.piece_id for r in named] == ["reels/reel.abc#0"] and named[0].license == "MIT"


def test_midi_without_key_signature_has_no_key(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=40)
    inst.notes = [pretty_midi.Note(80, 60 + i % 5, 0.5 * i, 0.5 * i + 0.5) for i in range(8)]
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "nokey.mid"))
    piece = load_piece(list_pieces(str(tmp_path))[0])
    assert not piece.key_known and piece.key is None and piece.metadata()["key"] is None
    assert piece.meter == Meter(4, 4) and len(piece.score.parts[0].notes) == 8


def test_bad_specs_and_unusable_pieces(tmp_path):
    with pytest.raises(MusicLLMError, match="unknown music21 collection"):
        list_pieces("music21:no-such-collection")
    with pytest.raises(MusicLLMError, match="no such folder"):
        list_pieces(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MusicLLMError, match="no score files"):
        list_pieces(str(tmp_path / "empty"))
    (tmp_path / "free.abc").write_text("X:1\nT:Free\nM:none\nL:1/8\nK:C\nCDEF GABc|\n")
    with pytest.raises(PieceError) as info:
        load_piece(list_pieces(str(tmp_path))[0])
    assert info.value.reason == "no meter"


def test_tune_type_and_license_detection(tmp_path):
    assert tune_type("Single Jig", None) == "jig" and tune_type(None, "7thRegimentReel") == "reel"
    assert tune_type("Slip jig") == "slip jig" and tune_type("Polkas") == "polka" and tune_type("The Tune") is None
    assert detect_license(tmp_path) == "unknown"
    (tmp_path / "COPYING").write_text("                    GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n")
    (tmp_path / "sub").mkdir()
    assert detect_license(tmp_path / "sub") == "GPL-3.0"
