"""A tiny corpus folder for the dataset tests: ABC tunes (one per rendering case), MIDI, MusicXML and
broken files. ``make_corpus(folder, with_scores=True)`` writes it and returns the folder."""

from __future__ import annotations

from pathlib import Path

JIG = """X:1
T:Test Jig
R:jig
O:Ireland
M:6/8
L:1/8
Q:3/8=100
K:G
|:GAB cde|dBG AFD|GAB cde|dBG G3:|
"""
TWO_VOICES = """X:2
T:Two Voices
C:Anon
M:3/4
L:1/4
K:Dm
V:1
A B c|d2 e|f e d|^c3|
V:2 clef=bass
D, E, F,|D,2 C,|D, A,, B,,|A,,3|
"""
REEL = """X:3
T:Test Reel
R:reel
M:4/4
L:1/8
K:D
|:DFAF dFAF|GBdB gBdB|AcAc efge|fdec d4:|
"""
METER_CHANGE = """X:4
T:Changing
M:2/4
L:1/8
K:C
CDEF|GABc|
M:3/4
cBAGFE|
"""
MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"


def make_corpus(folder: Path, *, with_scores: bool = False) -> Path:
    """ABC tunes in two files (one tune changes meter), a LICENSE, an ignored text file; with
    ``with_scores`` also a MIDI and a MusicXML file made from the reel, and a broken MIDI file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tunes.abc").write_text(JIG + "\n" + TWO_VOICES + "\n" + METER_CHANGE)
    (folder / "more").mkdir(exist_ok=True)
    (folder / "more" / "reel.abc").write_text(REEL)
    (folder / "LICENSE").write_text(MIT)
    (folder / "notes.txt").write_text("not a score")
    if with_scores:
        from musicllm.score.abc import read_abc
        from musicllm.score.io import write_score

        score = read_abc(REEL, expand_repeats=True)
        score.title = "Reel as files"
        write_score(score, folder / "reel.mid")
        write_score(score, folder / "reel.musicxml")
        (folder / "broken.mid").write_bytes(b"this is not a MIDI file")
    return folder
