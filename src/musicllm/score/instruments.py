"""General MIDI instrument names, programs (0..127) and families (program // 8).

``program_for("fiddle") == 40``; ``name_for(40) == "Violin"``; ``family_of(40) == "Strings"``.
Names follow General MIDI Level 1 (via pretty_midi); common short names and aliases are added.
"""

from __future__ import annotations

import pretty_midi

FAMILIES = [
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
    "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
]

ALIASES = {
    "piano": 0, "grand piano": 0, "keyboard": 0, "harpsichord": 6, "celesta": 8, "glockenspiel": 9,
    "vibraphone": 11, "marimba": 12, "xylophone": 13, "organ": 19, "church organ": 19, "accordion": 21,
    "harmonica": 22, "guitar": 24, "acoustic guitar": 24, "nylon guitar": 24, "classical guitar": 24,
    "steel guitar": 25, "electric guitar": 27, "bass": 32, "acoustic bass": 32, "electric bass": 33,
    "bass guitar": 33, "violin": 40, "fiddle": 40, "viola": 41, "cello": 42, "violoncello": 42,
    "contrabass": 43, "double bass": 43, "harp": 46, "timpani": 47, "strings": 48, "string ensemble": 48,
    "choir": 52, "voice": 52, "trumpet": 56, "trombone": 57, "tuba": 58, "horn": 60, "french horn": 60,
    "brass": 61, "soprano sax": 64, "alto sax": 65, "saxophone": 65, "sax": 65, "tenor sax": 66,
    "baritone sax": 67, "oboe": 68, "english horn": 69, "cor anglais": 69, "bassoon": 70,
    "clarinet": 71, "piccolo": 72, "flute": 73, "recorder": 74, "pan flute": 75, "whistle": 78,
    "tin whistle": 78, "ocarina": 79, "banjo": 105, "sitar": 104, "bagpipe": 109, "bagpipes": 109,
}


def name_for(program: int) -> str:
    """GM name of a program number, e.g. 40 -> "Violin"."""
    return pretty_midi.program_to_instrument_name(int(program) % 128)


def family_of(program: int) -> str:
    return FAMILIES[(int(program) % 128) // 8]


def program_for(name: str) -> int | None:
    """GM program for an instrument name or alias (case-insensitive); None when unknown."""
    key = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    if key in ALIASES:
        return ALIASES[key]
    try:
        return int(pretty_midi.instrument_name_to_program(name.strip().title()))
    except ValueError:
        pass
    for alias, prog in ALIASES.items():  # "violin 1", "Violino" ...
        if key.startswith(alias) or alias.startswith(key) and len(key) >= 4:
            return prog
    return None
