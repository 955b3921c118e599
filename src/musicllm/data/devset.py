"""The transcription dev set: rendered performances of real scores with exact ground truth.

Sources (all readable offline):

- ensembles: J. S. Bach's four-part chorales from music21's corpus (each voice on a chamber
  instrument), and Nottingham Music Database folk tunes (GPL-3.0, ``/work/shared/data/nottingham``)
  whose melody is accompanied by parts generated from the tune's chord symbols (piano, guitar,
  accordion or strings; bass-and-chord or block chords, sometimes with a separate bass instrument);
- solos: folk tunes from music21's ABC collections (O'Neill's 1850, Ryan's Mammoth, Aird's Airs,
  miscFolk) and from the Nottingham tunes not used for ensembles, on one instrument each.

Essen folk songs are left out: their ``K:`` field names a tonic without mode or key signature, so they
carry no key ground truth. music21's copy of the Nottingham tunes is left out too (same source).

Each piece is performed once: a tempo drawn for its meter and style, a random transposition of a few
semitones that keeps every part within its instrument's range (and within the pitches the chosen
SoundFont really sounds), onset jitter (normal, sd 4 ms, clipped at +-10 ms), velocities with
downbeat accents and phrase-level swells, and per-piece articulation (legato to detached); with
``--expressive P`` a share P of the pieces also bends time (tempo drift, a final ritardando, held
fermatas: `musicllm.data.expressive_timing`). It is cut
at a bar line so that the clip (lead-in, music, release tail) lasts at most ``max_seconds``, rendered
with a random SoundFont, and degraded with random EQ, synthetic room reverb and background noise.

Per item the folder gets ``<id>.wav`` (22050 Hz, mono, 16-bit) and ``<id>.json`` (the ground truth
in the score JSON layout of `musicllm.score.jsonio` plus the item's metadata, see `build_devset`), and ``manifest.jsonl`` lists all items with their ``subset`` (``dev`` or
``test``, split by piece, 70/30 within each source). The output depends only on the seed, the
arguments and the SoundFonts and corpora installed.

CLI: ``python -m musicllm.data.devset OUT_DIR --n-ensemble 40 --n-solo 40 --seed 0``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from musicllm.audio import effects
from musicllm.audio.render import (
    audible_pitches,
    available_soundfonts,
    gm_program_name,
    mix_stems,
    render_parts,
    write_wav,
)
from musicllm.data.corpora import COLLECTION_LICENSES, key_from_fifths, transpose_key  # noqa: F401 - re-exported
from musicllm.data.expressive_timing import TimeMap, TimingStyle
from musicllm.errors import MusicLLMError
from musicllm.files import atomic_write_text
from musicllm.score.jsonio import score_from_dict, score_to_dict
from musicllm.score.model import MODE_OFFSETS, Key, Meter, Note, Part, Score

SR = 22050
NOTTINGHAM_DIR_DEFAULT = "/work/shared/data/nottingham/ABC_cleaned"
M21_ABC_COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
TEST_FRACTION = 0.3
TAIL_S = 1.0

LICENSES = {k: COLLECTION_LICENSES[k] for k in ("bach-chorales", "nottingham", "oneills1850", "ryansMammoth",
                                                "airdsAirs", "miscFolk")}


class _Skip(Exception):
    """This piece cannot be used (unparsable, meter change, no instrument fits...)."""


# ---------------------------------------------------------------------------------------------------
# Instruments: General MIDI program, sounding MIDI range (practical, not extreme).

@dataclass(frozen=True)
class Instrument:
    program: int
    name: str
    low: int
    high: int


INSTRUMENTS = {
    "violin": Instrument(40, "violin", 55, 96),
    "viola": Instrument(41, "viola", 48, 84),
    "cello": Instrument(42, "cello", 36, 74),
    "contrabass": Instrument(43, "contrabass", 28, 60),
    "flute": Instrument(73, "flute", 60, 93),
    "oboe": Instrument(68, "oboe", 58, 88),
    "clarinet": Instrument(71, "clarinet", 50, 89),
    "bassoon": Instrument(70, "bassoon", 34, 72),
    "french horn": Instrument(60, "french horn", 40, 74),
    "trumpet": Instrument(56, "trumpet", 55, 82),
    "trombone": Instrument(57, "trombone", 36, 70),
    "alto sax": Instrument(65, "alto sax", 49, 80),
    "tenor sax": Instrument(66, "tenor sax", 44, 75),
    "baritone sax": Instrument(67, "baritone sax", 36, 69),
    "piano": Instrument(0, "piano", 21, 108),
    "nylon guitar": Instrument(24, "nylon guitar", 40, 84),
    "steel guitar": Instrument(25, "steel guitar", 40, 84),
    "accordion": Instrument(21, "accordion", 41, 89),
    "string ensemble": Instrument(48, "string ensemble", 36, 96),
    "acoustic bass": Instrument(32, "acoustic bass", 28, 60),
}

# Chorale voice -> instruments that may play it, with the octave shift (contrabass sounds 8vb).
CHORALE_VOICE_CHOICES = {
    "soprano": [("violin", 0), ("flute", 0), ("oboe", 0), ("clarinet", 0), ("trumpet", 0), ("alto sax", 0)],
    "alto": [("violin", 0), ("viola", 0), ("oboe", 0), ("clarinet", 0), ("french horn", 0), ("alto sax", 0),
             ("flute", 0)],
    "tenor": [("viola", 0), ("cello", 0), ("clarinet", 0), ("french horn", 0), ("tenor sax", 0),
              ("trombone", 0), ("bassoon", 0)],
    "bass": [("cello", 0), ("contrabass", -12), ("bassoon", 0), ("trombone", 0), ("baritone sax", 0)],
}
CHORALE_TEMPLATES = {
    "string quartet": [("violin", 0), ("violin", 0), ("viola", 0), ("cello", 0)],
    "strings with bass": [("violin", 0), ("viola", 0), ("cello", 0), ("contrabass", -12)],
    "wind quartet": [("flute", 0), ("oboe", 0), ("clarinet", 0), ("bassoon", 0)],
    "reed quartet": [("oboe", 0), ("clarinet", 0), ("clarinet", 0), ("bassoon", 0)],
    "brass quartet": [("trumpet", 0), ("trumpet", 0), ("french horn", 0), ("trombone", 0)],
    "horn and trombone": [("trumpet", 0), ("french horn", 0), ("trombone", 0), ("trombone", 0)],
    "saxophone quartet": [("alto sax", 0), ("alto sax", 0), ("tenor sax", 0), ("baritone sax", 0)],
}
FOLK_MELODY_CHOICES = [("violin", 0), ("flute", 0), ("clarinet", 0), ("oboe", 0)]
SOLO_CHOICES = [("violin", 0), ("flute", 0), ("clarinet", 0), ("alto sax", 0), ("bassoon", -12),
                ("cello", -12), ("piano", 0), ("nylon guitar", 0), ("steel guitar", -12), ("oboe", 0),
                ("trumpet", 0)]


# ---------------------------------------------------------------------------------------------------
# Keys

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def _scale_pcs(key: Key) -> set[int]:
    major_pc = (key.tonic_pc - MODE_OFFSETS[key.mode]) % 12
    pcs = {(major_pc + s) % 12 for s in _MAJOR_SCALE}
    if key.major_or_minor == "minor":  # raised 6th and 7th of melodic/harmonic minor
        pcs |= {(key.tonic_pc + 9) % 12, (key.tonic_pc + 11) % 12}
    return pcs


# ---------------------------------------------------------------------------------------------------
# Pieces

NoteQ = tuple[int, Fraction, Fraction]  # pitch, onset_qn, offset_qn


@dataclass
class _Piece:
    piece_id: str
    source: str
    source_file: str
    title: str
    style: str
    meter: Meter
    key: Key
    key_field: str
    pickup_qn: Fraction
    total_qn: Fraction
    voices: list[tuple[str, list[NoteQ]]]
    chords: list[tuple[Fraction, Fraction, int, int, tuple[int, ...]]] = field(default_factory=list)
    fermatas: list[tuple[Fraction, Fraction]] = field(default_factory=list)  # (onset, offset) qn of fermata notes


def _frac(x) -> Fraction:
    return Fraction(x).limit_denominator(10080)


def _m21():
    import music21

    return music21


def _notes_of(part) -> list[NoteQ]:
    """Tie-merged, grace-free notes of a music21 part as (pitch, onset_qn, offset_qn)."""
    m21 = _m21()
    flat = part.stripTies().flatten()
    out: list[NoteQ] = []
    for el in flat.notes:
        if isinstance(el, m21.harmony.ChordSymbol):
            continue
        ql = _frac(el.duration.quarterLength)
        if el.duration.isGrace or ql <= 0:
            continue
        on = _frac(el.offset)
        pitches = [el.pitch] if isinstance(el, m21.note.Note) else list(getattr(el, "pitches", []))
        for p in pitches:
            out.append((int(round(p.ps)), on, on + ql))
    out = sorted(set(out), key=lambda n: (n[1], n[0]))
    return out


def _fermatas_of(part) -> list[tuple[Fraction, Fraction]]:
    """(onset_qn, offset_qn) of the notes and chords of a music21 part that carry a fermata."""
    m21 = _m21()
    out = set()
    for el in part.stripTies().flatten().notes:
        if any(isinstance(e, m21.expressions.Fermata) for e in el.expressions):
            on = _frac(el.offset)
            out.add((on, on + _frac(el.duration.quarterLength)))
    return sorted(out)


def _measure_grid(part, meter: Meter) -> tuple[Fraction, Fraction]:
    """(pickup_qn, total_qn) of a music21 part; raises `_Skip` if full bars are off the regular grid."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        raise _Skip("no measures")
    bar = meter.bar_qn
    first = _frac(measures[0].duration.quarterLength)
    pickup = first if 0 < first < bar else Fraction(0)
    for m in measures[1:]:
        if _frac(m.duration.quarterLength) == bar and (_frac(m.offset) - pickup) % bar != 0:
            raise _Skip("irregular bars")
    total = _frac(part.highestTime)
    return pickup, total


def _single(values: list, what: str):
    if not values:
        raise _Skip(f"no {what}")
    if len(set(values)) != 1:
        raise _Skip(f"{what} changes")
    return values[0]


def _check_diatonic(key: Key, notes: list[NoteQ], threshold: float) -> None:
    pcs = _scale_pcs(key)
    total = sum(float(off - on) for _, on, off in notes)
    inside = sum(float(off - on) for p, on, off in notes if p % 12 in pcs)
    if total <= 0 or inside / total < threshold:
        raise _Skip("notes do not fit the key")


def _chorale_paths() -> list[Path]:
    m21 = _m21()
    paths = [Path(p) for p in m21.corpus.getComposer("bach")]
    return sorted((p for p in paths if p.suffix in (".mxl", ".xml")), key=lambda p: p.name)


_VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


def _load_chorale(path: Path) -> _Piece:
    m21 = _m21()
    try:
        score = m21.converter.parse(str(path))
    except Exception as exc:  # noqa: BLE001 - any parser failure means: skip this file
        raise _Skip(f"parse error: {exc}") from exc
    parts = list(score.parts)
    by_voice = {}
    for p in parts:
        name = (p.partName or "").strip().lower()
        for v in _VOICE_NAMES:
            if name.startswith(v) or name == v[0]:
                by_voice.setdefault(v, []).append(p)
    if all(len(by_voice.get(v, [])) == 1 for v in _VOICE_NAMES):
        chosen = [by_voice[v][0] for v in _VOICE_NAMES]
    elif len(parts) == 4:
        chosen = parts
    else:
        raise _Skip("not four SATB parts")
    tss = [ts.ratioString for ts in chosen[0].recurse().getElementsByClass(m21.meter.TimeSignature)]
    meter = Meter.parse(_single(tss, "time signature"))
    sigs = list(chosen[0].recurse().getElementsByClass(m21.key.KeySignature))
    fifths = _single([ks.sharps for ks in sigs], "key signature")
    declared = getattr(sigs[0], "mode", None)  # MusicXML <mode>, when the file has one
    voices = [(v, _notes_of(p)) for v, p in zip(_VOICE_NAMES, chosen, strict=True)]
    if any(len(ns) < 8 for _, ns in voices):
        raise _Skip("empty voice")
    # Mode from the final bass note against the key signature: ends on the major tonic -> major, on
    # the relative minor's tonic -> minor, a tone above the major tonic -> dorian (Bach's minor keys
    # notated with one flat too few; key_simple is then minor). The file's declared mode, when there
    # is one, must agree; other endings (Phrygian or half cadences, modal melodies) are skipped.
    bass = voices[3][1]
    last_on = max(n[1] for n in bass)
    final_pc = min(n[0] for n in bass if n[1] == last_on) % 12
    offset = (final_pc - (7 * fifths) % 12) % 12
    mode = {0: "major", 9: "minor", 2: "dorian"}.get(offset)
    if mode is None or (declared in ("major", "minor") and Key("C", mode).major_or_minor != declared) \
            or (mode == "dorian" and declared != "minor"):
        raise _Skip("modal or open ending")
    key = key_from_fifths(fifths, mode)
    all_notes = [n for _, ns in voices for n in ns]
    _check_diatonic(key, all_notes, 0.8)
    pickup, total = _measure_grid(chosen[0], meter)
    title = f"Chorale BWV {path.stem.removeprefix('bwv')}"
    return _Piece(
        piece_id=f"bach-chorales/{path.stem}", source="bach-chorales", source_file=f"music21 corpus: bach/{path.name}",
        title=str(title), style="chorale", meter=meter, key=key, key_field=f"signature {fifths:+d} fifths, declared mode {declared}, final bass pc {final_pc}",
        pickup_qn=pickup, total_qn=total, voices=voices, fermatas=_fermatas_of(chosen[0]))


def _split_abc(text: str) -> list[str]:
    return [t.strip() + "\n" for t in re.split(r"\n(?=X:)", "\n" + text) if t.strip().startswith("X:")]


def _abc_header_field(tune: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}:(.*)$", tune, re.M)]


def _abc_pool(files: list[Path], source: str) -> list[tuple[str, str, str]]:
    """(piece_id, source_file, tune_text) for every tune in ``files``."""
    out = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for i, tune in enumerate(_split_abc(text)):
            xs = _abc_header_field(tune, "X")
            label = f"{f.name}#X{xs[0] if xs else i}"
            out.append((f"{source}/{label}@{i}", f"{f.name}", tune))
    return out


def _abc_style(meter: Meter, rhythm: str) -> str:
    r = rhythm.lower().replace(" ", "")
    for word in ("slipjig", "jig", "reel", "hornpipe", "waltz", "polka", "march", "strathspey", "air",
                 "mazurka", "schottische"):
        if word in r:
            return "jig" if word == "jig" else word
    if meter.numerator == 9 and meter.denominator == 8:
        return "slipjig"
    if meter.is_compound:
        return "jig"
    if meter.numerator == 3:
        return "waltz"
    return "reel" if meter.numerator in (2, 4) else "tune"


def _parse_key_field(value: str) -> Key:
    v = value.split("%")[0].strip()
    v = re.split(r"\s+(?:clef|middle|transpose|octave|stafflines)=", v)[0].strip()
    words = v.split()
    if not words:
        raise _Skip("no key")
    for n in (2, 1):
        try:
            return Key.parse(" ".join(words[:n]))
        except ValueError:
            continue
    raise _Skip(f"unusable key {value!r}")


def _load_abc_tune(piece_id: str, source: str, source_file: str, tune: str, *, need_chords: bool) -> _Piece:
    m21 = _m21()
    head, _, body = tune.partition("\nK:")
    body = body.split("\n", 1)[1] if "\n" in body else ""
    if re.search(r"^\s*[KM]:", body, re.M) or re.search(r"\[[KM]:", body):
        raise _Skip("key or meter change")
    if re.search(r"^\s*V:", tune, re.M):
        raise _Skip("several voices")
    keys = _abc_header_field(tune, "K")
    meters = _abc_header_field(head, "M")
    if not keys or not meters:
        raise _Skip("no K: or M:")
    key = _parse_key_field(keys[0])
    try:
        meter = Meter.parse(meters[-1].split("%")[0])
    except ValueError as exc:
        raise _Skip("unusable meter") from exc
    if (meter.numerator, meter.denominator) not in {(2, 4), (4, 4), (2, 2), (3, 4), (6, 8), (9, 8), (12, 8),
                                                    (3, 2), (6, 4), (3, 8)}:
        raise _Skip("unusual meter")
    try:
        score = m21.converter.parse(tune, format="abc")
    except Exception as exc:  # noqa: BLE001
        raise _Skip(f"parse error: {exc}") from exc
    if not score.parts or len(score.parts) != 1:
        raise _Skip("not one part")
    part = score.parts[0]
    try:
        expanded = part.expandRepeats()
    except Exception:  # noqa: BLE001 - bad repeat structure: play it as written
        expanded = part
    tss = [ts.ratioString for ts in expanded.recurse().getElementsByClass(m21.meter.TimeSignature)]
    if Meter.parse(_single(tss, "time signature")) != meter:
        raise _Skip("meter disagrees")
    kss = [ks.sharps for ks in expanded.recurse().getElementsByClass(m21.key.KeySignature)]
    if _single(kss, "key signature") != key.fifths:
        raise _Skip("key signature disagrees with K:")
    notes = _notes_of(expanded)
    if len(notes) < 16:
        raise _Skip("too few notes")
    if any(b[1] < a[2] for a, b in zip(notes, notes[1:], strict=False)):
        raise _Skip("not monophonic")
    _check_diatonic(key, notes, 0.8)
    pickup, total = _measure_grid(expanded, meter)
    chords = []
    if need_chords:
        symbols = []
        for cs in expanded.flatten().getElementsByClass(m21.harmony.ChordSymbol):
            try:
                if isinstance(cs, m21.harmony.NoChord) or not cs.pitches:
                    symbols.append((_frac(cs.offset), None))
                    continue
                root = cs.root().pitchClass
                bass = cs.bass().pitchClass if cs.bass() is not None else root
                pcs = tuple(sorted({p.pitchClass for p in cs.pitches}))
            except Exception as exc:  # noqa: BLE001
                raise _Skip(f"bad chord symbol {cs.figure!r}") from exc
            symbols.append((_frac(cs.offset), (root, bass, pcs)))
        symbols.sort(key=lambda s: s[0])
        if len(symbols) < 4:
            raise _Skip("no chord symbols")
        for (t0, c), (t1, _) in zip(symbols, [*symbols[1:], (total, None)], strict=True):
            if c is not None and t1 > t0:
                chords.append((t0, t1, c[0], c[1], c[2]))
        if not chords:
            raise _Skip("no chord symbols")
    titles = _abc_header_field(tune, "T")
    rhythm = (_abc_header_field(tune, "R") or [""])[0]
    return _Piece(piece_id=piece_id, source=source, source_file=source_file, title=titles[0] if titles else "",
                  style=_abc_style(meter, rhythm), meter=meter, key=key, key_field=keys[0], pickup_qn=pickup,
                  total_qn=total, voices=[("melody", notes)], chords=chords, fermatas=_fermatas_of(expanded))


# ---------------------------------------------------------------------------------------------------
# Arrangement: instruments, transposition, accompaniment

@dataclass
class _Voice:
    name: str
    role: str
    instrument: Instrument
    octave: int
    notes: list[NoteQ]


def _fits(notes: list[NoteQ], inst: Instrument, shift: int, audible: frozenset[int]) -> bool:
    if not notes:
        return True
    lo = min(n[0] for n in notes) + shift
    hi = max(n[0] for n in notes) + shift
    return inst.low <= lo and hi <= inst.high and all(n[0] + shift in audible for n in notes)


def _audible(soundfont: str, program: int) -> frozenset[int]:
    return audible_pitches(soundfont, program, sr=SR)


def _transpositions(rng: np.random.Generator, span: int = 3) -> list[int]:
    """Candidate transpositions, a random one first, then the rest by increasing size."""
    first = int(rng.integers(-span, span + 1))
    rest = sorted((t for t in range(-span - 1, span + 2) if t != first), key=lambda t: (abs(t), t))
    return [first, *rest]


def _chord_voicing(root: int, bass: int, pcs: tuple[int, ...], t: int, low: int) -> list[int]:
    """Close-position chord tones (transposed by ``t``) inside [low, low + 12)."""
    return sorted({low + ((pc + t - low) % 12) for pc in pcs})


def _bass_pitch(pc: int, t: int, low: int = 40) -> int:
    return low + ((pc + t - low) % 12)


def _accompaniment(piece: _Piece, t: int, style: str, end_qn: Fraction, with_bass_part: bool,
                   chord_low: int) -> tuple[list[NoteQ], list[NoteQ]]:
    """(chord notes, bass notes) in quarter notes for the piece's chord symbols, transposed by ``t``.

    ``style``: ``"bass-chord"`` (bass on strong beats, chords on the others; in compound meters bass
    on each beat and a chord on its last third) or ``"block"`` (chords held per bar and per change).
    Without ``with_bass_part`` the bass notes are merged into the chord part.
    """
    meter = piece.meter
    beat, bar = meter.beat_qn, meter.bar_qn
    chords_out: list[NoteQ] = []
    bass_out: list[NoteQ] = []

    def chord_at(q: Fraction):
        for c in piece.chords:
            if c[0] <= q < c[1]:
                return c
        return None

    # Beat grid from the first full bar (a pickup gets no accompaniment).
    first = piece.pickup_qn
    n_beats = int((end_qn - first) / beat)
    if style == "block":
        # Hold each chord from its start (or the bar line) to the next change or bar line.
        cuts = {first + k * bar for k in range(int((end_qn - first) / bar) + 1)}
        cuts |= {c[0] for c in piece.chords if first <= c[0] < end_qn}
        cuts = sorted(q for q in cuts if q < end_qn) + [end_qn]
        for a, b in zip(cuts, cuts[1:], strict=False):
            c = chord_at(a)
            if c is None or b <= a:
                continue
            chords_out += [(p, a, b) for p in _chord_voicing(c[2], c[3], c[4], t, chord_low)]
            bass_out.append((_bass_pitch(c[3], t), a, b))
    else:
        for k in range(n_beats):
            q = first + k * beat
            c = chord_at(q)
            if c is None:
                continue
            idx = k % meter.beats_per_bar
            if meter.is_compound:
                third = beat / 3
                bass_pc = c[3] if idx % 2 == 0 else (c[2] + 7) % 12
                bass_out.append((_bass_pitch(bass_pc, t), q, q + 2 * third))
                cc = chord_at(q + 2 * third) or c
                chords_out += [(p, q + 2 * third, q + beat) for p in _chord_voicing(cc[2], cc[3], cc[4], t, chord_low)]
            else:
                strong = idx == 0 or (meter.beats_per_bar in (4, 6) and idx == meter.beats_per_bar // 2)
                if strong:
                    bass_pc = c[3] if idx == 0 else (c[2] + 7) % 12
                    bass_out.append((_bass_pitch(bass_pc, t), q, q + beat))
                else:
                    chords_out += [(p, q, q + beat) for p in _chord_voicing(c[2], c[3], c[4], t, chord_low)]
    if not with_bass_part:
        return sorted(chords_out + bass_out, key=lambda n: (n[1], n[0])), []
    return chords_out, bass_out


def _arrange(piece: _Piece, kind: str, soundfont: str, rng: np.random.Generator,
             chamber_subsets: float = 0.0) -> tuple[list[_Voice], int, str]:
    """Instruments and transposition; returns (voices, transposition, arrangement name). With
    probability ``chamber_subsets`` a chorale keeps only 2 or 3 of its voices (a duet or trio)."""
    if piece.style == "chorale" and chamber_subsets > 0:
        voices, t, name = _arrange(piece, kind, soundfont, rng)
        if rng.random() < chamber_subsets:
            k = int(rng.integers(2, 4))
            keep = sorted(rng.choice(len(voices), size=k, replace=False).tolist())
            voices = [voices[i] for i in keep]
            name = f"{name}, {'duet' if k == 2 else 'trio'} of {'+'.join(v.name for v in voices)}"
        return voices, t, name
    trans = _transpositions(rng)
    if piece.style == "chorale":
        names = list(CHORALE_TEMPLATES)
        use_template = rng.random() < 0.5
        order = [names[i] for i in rng.permutation(len(names))] if use_template else []
        for tname in order:
            combo = CHORALE_TEMPLATES[tname]
            for t in trans:
                if all(_fits([(p + t, a, b) for p, a, b in ns], INSTRUMENTS[i], o,
                             _audible(soundfont, INSTRUMENTS[i].program))
                       for (_, ns), (i, o) in zip(piece.voices, combo, strict=True)):
                    return [_Voice(v, v, INSTRUMENTS[i], o, [(p + t, a, b) for p, a, b in ns])
                            for (v, ns), (i, o) in zip(piece.voices, combo, strict=True)], t, tname
        for t in trans:
            chosen = []
            for v, ns in piece.voices:
                opts = CHORALE_VOICE_CHOICES[v]
                fitting = [(i, o) for i, o in opts
                           if _fits([(p + t, a, b) for p, a, b in ns], INSTRUMENTS[i], o,
                                    _audible(soundfont, INSTRUMENTS[i].program))]
                fresh = [c for c in fitting if c[0] not in {x[0] for x in chosen}] or fitting
                if not fresh:
                    break
                chosen.append(fresh[int(rng.integers(len(fresh)))])
            if len(chosen) == 4:
                return [_Voice(v, v, INSTRUMENTS[i], o, [(p + t, a, b) for p, a, b in ns])
                        for (v, ns), (i, o) in zip(piece.voices, chosen, strict=True)], t, "mixed"
        raise _Skip("no instruments fit")

    melody = piece.voices[0][1]
    choices = SOLO_CHOICES if kind == "solo" else FOLK_MELODY_CHOICES
    order = [choices[i] for i in rng.permutation(len(choices))]
    for iname, octave in order:
        inst = INSTRUMENTS[iname]
        for t in trans:
            mel = [(p + t, a, b) for p, a, b in melody]
            if not _fits(mel, inst, octave, _audible(soundfont, inst.program)):
                continue
            voices = [_Voice("melody", "melody", inst, octave, mel)]
            if kind == "solo":
                return voices, t, f"solo {iname}"
            acc = _choose_accompaniment(piece, t, soundfont, rng, melody_low=min(p for p, _, _ in mel) + octave)
            if acc is None:
                continue
            return voices + acc[0], t, acc[1]
    raise _Skip("no instrument fits")


def _choose_accompaniment(piece: _Piece, t: int, soundfont: str, rng: np.random.Generator,
                          melody_low: int) -> tuple[list[_Voice], str] | None:
    options = [
        ("piano", "bass-chord", False), ("piano", "block", False), ("nylon guitar", "bass-chord", False),
        ("steel guitar", "bass-chord", False), ("accordion", "bass-chord", False),
        ("string ensemble", "block", False), ("steel guitar", "bass-chord", True),
        ("piano", "bass-chord", True), ("string ensemble", "block", True),
    ]
    for idx in rng.permutation(len(options)):
        iname, style, bass_part = options[int(idx)]
        inst = INSTRUMENTS[iname]
        chord_low = 52 if "guitar" in iname else 55
        end = piece.total_qn
        chords, bass = _accompaniment(piece, t, style, end, bass_part, chord_low)
        if not chords:
            return None
        voices = [_Voice("accompaniment", f"accompaniment ({style})", inst, 0, chords)]
        if not _fits(chords, inst, 0, _audible(soundfont, inst.program)):
            continue
        if bass_part:
            binst = INSTRUMENTS["acoustic bass" if rng.random() < 0.5 else "contrabass"]
            shift = -12
            if not _fits(bass, binst, shift, _audible(soundfont, binst.program)):
                binst, shift = INSTRUMENTS["cello"], 0
                if not _fits(bass, binst, 0, _audible(soundfont, binst.program)):
                    continue
            voices.append(_Voice("bass", "bass", binst, shift, bass))
        name = f"{iname} {style}" + (f" + {voices[-1].instrument.name}" if bass_part else "")
        return voices, name
    return None


# ---------------------------------------------------------------------------------------------------
# Performance

def _tempo_for(piece: _Piece, rng: np.random.Generator) -> tuple[float, float]:
    """(tempo_qpm, felt beats per minute) drawn for the piece's style and meter."""
    m, style = piece.meter, piece.style
    beat = float(m.beat_qn)
    if style == "chorale":
        lo, hi = 60, 100  # quarter notes
        bpm = float(rng.integers(lo, hi + 1))
        return bpm, bpm / beat
    if m.is_compound:
        lo, hi = (80, 115) if style != "air" else (50, 80)  # dotted quarters per minute
    elif (m.numerator, m.denominator) == (3, 4):
        lo, hi = (100, 170) if style != "air" else (70, 110)
    elif (m.numerator, m.denominator) == (3, 8):
        lo, hi = (50, 80)  # one dotted-quarter beat per bar... felt as bars
        q = float(rng.integers(lo, hi + 1))
        return q * 1.5, q * 1.5 / beat
    elif m.denominator == 2:
        lo, hi = (60, 90)  # half notes
    elif style == "hornpipe":
        lo, hi = (80, 120)
    elif style == "air":
        lo, hi = (60, 90)
    else:
        lo, hi = (90, 140)
    bpm = float(rng.integers(lo, hi + 1))
    return bpm * beat, bpm


@dataclass
class _Perf:
    tempo_qpm: float
    lead_in_s: float
    articulation: dict[str, float]
    jitter_sd_ms: float = 4.0
    jitter_max_ms: float = 10.0
    timing: TimingStyle | None = None  # expressive timing, or None for a steady tempo


def _perform(piece: _Piece, voices: list[_Voice], t_semis: int, tempo_qpm: float, max_seconds: float,
             rng: np.random.Generator, timing: tuple[TimingStyle, np.random.Generator] | None = None
             ) -> tuple[Score, _Perf, Fraction]:
    """Cut at a bar line, time and shape every note; returns (score, performance, cut_qn).
    ``timing``: an expressive timing style and the generator of its tempo drift
    (`musicllm.data.expressive_timing`); None plays at a steady tempo."""
    meter = piece.meter
    spq = 60.0 / tempo_qpm
    lead_in = float(rng.uniform(0.2, 0.8))
    bar = meter.bar_qn
    if timing is None:
        def t_of(q: Fraction) -> float:
            return lead_in + float(q) * spq
    else:
        t_of = TimeMap(tempo_qpm, lead_in, piece.total_qn, bar, piece.pickup_qn, timing[0], timing[1],
                       piece.fermatas)
    cut = _clip_end(piece, bar, t_of, max_seconds)
    if t_of(cut) - lead_in < 0.4 * max_seconds:
        raise _Skip("piece too short")

    parts: list[Part] = []
    arts: dict[str, float] = {}
    swell_phase = float(rng.uniform(0, 2 * math.pi))
    swell_len_qn = float(bar) * float(rng.choice([2, 4]))
    for v in voices:
        inst = v.instrument
        plucked = inst.program in (0, 24, 25, 32)
        base_vel = float(rng.uniform(64, 92)) - (8.0 if v.role.startswith("accomp") or v.role == "bass" else 0.0)
        art = float(rng.uniform(0.55, 0.9)) if plucked else float(rng.uniform(0.8, 0.98))
        arts[v.name] = round(art, 3)
        strum = "guitar" in inst.name and "bass-chord" in v.role
        notes: list[Note] = []
        by_onset: dict[Fraction, dict[int, Fraction]] = {}
        for p, a, b in v.notes:
            if a < cut:
                by_onset.setdefault(a, {})[p] = max(b, by_onset.get(a, {}).get(p, b))
        for on_q, ends in sorted(by_onset.items()):
            jit = float(np.clip(rng.normal(0, 0.004), -0.010, 0.010))
            pos = (on_q - piece.pickup_qn) % bar
            accent = 8.0 if pos == 0 else (4.0 if pos % meter.beat_qn == 0 else 0.0)
            swell = 6.0 * math.sin(2 * math.pi * float(on_q) / swell_len_qn + swell_phase)
            for j, p in enumerate(sorted(ends)):
                off_q = min(ends[p], cut)
                onset = t_of(on_q) + jit + (0.008 * j if strum else float(rng.normal(0, 0.002)) if j else 0.0)
                dur_nom = t_of(off_q) - t_of(on_q)
                dur = dur_nom * float(np.clip(art + rng.normal(0, 0.04), 0.4, 1.02))
                dur = max(dur, min(0.05, dur_nom))
                offset = min(onset + dur, t_of(cut))
                vel = int(np.clip(round(base_vel + accent + swell + rng.normal(0, 4)), 25, 120))
                pitch = p + v.octave
                notes.append(Note(pitch, round(max(onset, 0.0), 4), round(offset, 4), vel, on_q, off_q))
        notes.sort(key=lambda n: (n.onset_s, n.pitch))
        # No two sounding notes of the same pitch in one part: end the earlier one 10 ms before.
        last: dict[int, Note] = {}
        for n in notes:
            prev = last.get(n.pitch)
            if prev is not None and prev.offset_s > n.onset_s - 0.01:
                prev.offset_s = round(max(prev.onset_s + 0.02, n.onset_s - 0.01), 4)
            last[n.pitch] = n
        notes = [n for n in notes if n.offset_s - n.onset_s >= 0.02]
        parts.append(Part(name=v.name, program=inst.program, notes=notes))
    if any(not p.notes for p in parts):
        raise _Skip("a part is empty in the clip")
    beat_qn = meter.beat_qn
    k0 = -math.floor(piece.pickup_qn / beat_qn)
    beats_qn = []
    k = k0
    while True:
        q = piece.pickup_qn + k * beat_qn
        if q >= cut:
            break
        if q >= 0:
            beats_qn.append(q)
        k += 1
    downbeats_qn = [q for q in beats_qn if (q - piece.pickup_qn) % bar == 0]
    beat_times = [t_of(q) for q in beats_qn]
    if timing is not None and len(beats_qn) > 2:
        # The tempo a listener (or a beat annotator) hears: that of the median beat, as performed.
        tempo_qpm = round(60.0 * float(beat_qn) / float(np.median(np.diff(beat_times))), 3)
    score = Score(parts=parts, tempo_qpm=tempo_qpm, meter=meter, key=transpose_key(piece.key, t_semis),
                  title=piece.title, beat_times_s=[round(t, 4) for t in beat_times],
                  downbeat_times_s=[round(t_of(q), 4) for q in downbeats_qn], pickup_qn=piece.pickup_qn,
                  duration_s=t_of(cut))
    perf = _Perf(tempo_qpm=tempo_qpm, lead_in_s=round(lead_in, 4), articulation=arts,
                 timing=timing[0] if timing else None)
    return score, perf, cut


def _clip_end(piece: _Piece, bar: Fraction, t_of, max_seconds: float) -> Fraction:
    """Where the clip ends (quarter notes): the piece's end, or the last bar line at which the clip
    (lead-in, music and `TAIL_S` of release) still fits in ``max_seconds``."""
    if t_of(piece.total_qn) + TAIL_S <= max_seconds:
        return piece.total_qn
    n_bars = math.floor((piece.total_qn - piece.pickup_qn) / bar)
    while n_bars >= 2 and t_of(piece.pickup_qn + n_bars * bar) + TAIL_S > max_seconds:
        n_bars -= 1
    if n_bars < 2:
        raise _Skip("too slow for the clip length")
    return piece.pickup_qn + n_bars * bar


# ---------------------------------------------------------------------------------------------------
# Audio

def _effects_chain(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    info: dict = {}
    if rng.random() < 0.75:
        rt60, wet = float(rng.uniform(0.3, 1.5)), float(rng.uniform(0.1, 0.45))
        x = effects.add_reverb(x, SR, rt60, wet, rng)
        info["reverb"] = {"rt60_s": round(rt60, 3), "wet": round(wet, 3), "type": "synthetic room"}
    else:
        info["reverb"] = None
    if rng.random() < 0.7:
        eq = effects.random_eq_params(rng)
        x = effects.apply_eq(x, SR, eq)
        info["eq"] = {k: round(v, 2) for k, v in eq.items()}
    else:
        info["eq"] = None
    if rng.random() < 0.6:
        snr = float(rng.uniform(20.0, 40.0))
        color = "pink" if rng.random() < 0.7 else "white"
        x = effects.add_noise(x, snr, rng, color)
        info["noise"] = {"snr_db": round(snr, 2), "color": color}
    else:
        info["noise"] = None
    peak = float(rng.uniform(-6.0, -1.0))
    x = effects.fade_out(effects.normalize_peak(x, peak), SR, 0.05)
    info["peak_dbfs"] = round(peak, 2)
    return x, info


# ---------------------------------------------------------------------------------------------------
# Building

@dataclass
class DevItem:
    """One dev-set item, as listed in ``manifest.jsonl`` (``<id>.json`` has the full ground truth).

    ``audio`` and ``json`` are file names inside the dev-set folder; ``key`` is ``"<tonic> major"``
    or ``"<tonic> minor"``, ``key_mode`` the key with its church mode (``"A dorian"``).
    """

    id: str
    subset: str
    kind: str
    source: str
    title: str
    audio: str
    json: str
    duration_s: float
    tempo_qpm: float
    meter: str
    key: str
    key_mode: str
    soundfont: str
    programs: list[int]
    arrangement: str
    n_notes: int
    seed: int


def _item_rng(seed: int, piece_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(piece_id.encode("utf-8"))])


def _make_item(piece: _Piece, kind: str, item_id: str, out_dir: Path, seed: int, max_seconds: float,
               soundfonts: dict[str, str], chamber_subsets: float = 0.0,
               expressive: float = 0.0) -> tuple[DevItem, dict]:
    rng = _item_rng(seed, piece.piece_id)
    # Expressive timing draws from a generator of its own, so sets built without it stay identical.
    timing_rng = np.random.default_rng([seed, zlib.crc32(piece.piece_id.encode("utf-8")), 1])
    timing = (TimingStyle.draw(timing_rng), timing_rng) if timing_rng.random() < expressive else None
    names = sorted(soundfonts)
    sf_order = [names[i] for i in rng.permutation(len(names))]
    last_exc: _Skip | None = None
    for sf_name in sf_order:
        try:
            voices, t_semis, arrangement = _arrange(piece, kind, soundfonts[sf_name], rng, chamber_subsets)
            break
        except _Skip as exc:
            last_exc = exc
    else:
        raise last_exc or _Skip("no soundfont")
    tempo_qpm, beat_bpm = _tempo_for(piece, rng)
    tempo_qpm = round(tempo_qpm, 3)
    nominal_qpm = tempo_qpm
    score, perf, cut = _perform(piece, voices, t_semis, tempo_qpm, max_seconds, rng, timing)
    tempo_qpm = score.tempo_qpm  # the performed (median-beat) tempo under expressive timing
    stems = render_parts(score, soundfont=soundfonts[sf_name], sr=SR, tail_s=TAIL_S)
    n_total = min(int(math.ceil((score.duration_s + TAIL_S) * SR)), int(max_seconds * SR))
    stems = [s[:n_total] for s in stems]
    if piece.style == "chorale":
        gains = [float(rng.uniform(-2.0, 2.0)) for _ in voices]
    else:
        gains = [0.0 if v.role == "melody" else float(rng.uniform(-9.0, -4.0)) for v in voices]
    mix = mix_stems(stems, SR, gains_db=gains, balance=True)
    audio, fx = _effects_chain(mix, rng)
    fx["mix_gains_db"] = [round(g, 2) for g in gains]
    wav_path = out_dir / f"{item_id}.wav"
    write_wav(wav_path, audio, SR)
    music_end_s = score.duration_s
    score.duration_s = len(audio) / SR  # the JSON's duration_s is the audio's length
    key = score.key
    extra = {
        "id": item_id,
        "kind": kind,
        "source": piece.source,
        "source_file": piece.source_file,
        "piece_id": piece.piece_id,
        "license": LICENSES.get(piece.source, ""),
        "style": piece.style,
        "arrangement": arrangement,
        "audio": wav_path.name,
        "sr": SR,
        "beat_bpm": round(beat_bpm, 3),
        "key_simple": str(key.simplified()),
        "key_tonic": key.tonic,
        "key_fifths": key.fifths,
        "key_source": piece.key_field,
        "transpose_semitones": t_semis,
        "music_end_s": round(music_end_s, 4),
        "cut_qn": str(cut),
        "instruments": [
            {"part": v.name, "role": v.role, "program": v.instrument.program, "instrument": v.instrument.name,
             "gm_name": gm_program_name(v.instrument.program), "octave_shift": v.octave}
            for v in voices
        ],
        "soundfont": sf_name,
        "soundfont_file": Path(soundfonts[sf_name]).name,
        "effects": fx,
        "performance": {"lead_in_s": perf.lead_in_s, "articulation": perf.articulation,
                        "onset_jitter_sd_ms": perf.jitter_sd_ms, "onset_jitter_max_ms": perf.jitter_max_ms},
        "seed": seed,
    }
    if perf.timing is not None:
        extra["performance"].update(timing=perf.timing.to_dict(), nominal_tempo_qpm=nominal_qpm,
                                    fermatas_in_clip=sum(on < cut for on, _ in piece.fermatas))
    gt = score_to_dict(score, extra=extra)
    item = DevItem(id=item_id, subset="", kind=kind, source=piece.source, title=piece.title,
                   audio=wav_path.name, json=f"{item_id}.json", duration_s=gt["duration_s"],
                   tempo_qpm=tempo_qpm, meter=gt["meter"], key=gt["key"], key_mode=gt["key_mode"],
                   soundfont=sf_name, programs=[v.instrument.program for v in voices], arrangement=arrangement,
                   n_notes=sum(len(p.notes) for p in score.parts), seed=seed)
    return item, gt


def _shuffled(items: list, seed: int, label: str) -> list:
    rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
    return [items[i] for i in rng.permutation(len(items))]


def _m21_abc_files() -> list[Path]:
    base = Path(_m21().__file__).parent / "corpus"
    files: list[Path] = []
    for coll in M21_ABC_COLLECTIONS:
        d = base / coll
        if d.is_dir():
            files += sorted(d.glob("*.abc"))
    return files


def _nottingham_files(nottingham_dir: str | os.PathLike | None) -> list[Path]:
    d = Path(nottingham_dir or os.environ.get("MUSICLLM_NOTTINGHAM_DIR", NOTTINGHAM_DIR_DEFAULT))
    return sorted(d.glob("*.abc")) if d.is_dir() else []


def _split_subsets(items: list[DevItem], seed: int) -> None:
    groups: dict[tuple[str, str], list[DevItem]] = {}
    for it in items:
        groups.setdefault((it.kind, it.source), []).append(it)
    for (kind, source), group in sorted(groups.items()):
        order = _shuffled(group, seed, f"split/{kind}/{source}")
        n_test = int(round(TEST_FRACTION * len(group)))
        if len(group) >= 2:
            n_test = max(1, n_test)
        for i, it in enumerate(order):
            it.subset = "test" if i < n_test else "dev"


def build_devset(out_dir: str | os.PathLike, *, n_ensemble: int = 60, n_solo: int = 60, seed: int = 0,
                 max_seconds: float = 30.0, soundfonts: list[str] | dict[str, str] | None = None,
                 nottingham_dir: str | os.PathLike | None = None, progress: bool = True,
                 chamber_subsets: float = 0.0, expressive: float = 0.0) -> list[DevItem]:
    """Build the transcription dev set into ``out_dir``; returns the items (also in ``manifest.jsonl``).

    ``n_ensemble`` items alternate between Bach chorales (half in major, half in minor keys) and
    accompanied Nottingham tunes; ``n_solo`` between music21-corpus folk tunes and Nottingham tunes
    (a piece is used at most once).
    ``max_seconds``: upper bound on each clip's length in seconds. ``soundfonts``: names (from
    `musicllm.audio.render.available_soundfonts`) or ``{name: path}``; default: all available.
    ``nottingham_dir``: folder of Nottingham ``.abc`` files (default ``$MUSICLLM_NOTTINGHAM_DIR`` or
    ``/work/shared/data/nottingham/ABC_cleaned``). ``chamber_subsets``: probability that a chorale
    keeps only 2 or 3 of its voices (duets and trios of single-line instruments; 0 keeps every set
    built before this option identical). ``expressive``: probability that a piece is played with
    expressive timing (tempo drift, a final ritardando, held fermatas; see
    `musicllm.data.expressive_timing`); 0 keeps every set built before this option identical, and
    the same seed with another ``expressive`` gives the same pieces, instruments and effects.

    Ground truth per item (``<id>.json``) follows the score JSON layout of `musicllm.score.jsonio`
    (``parts`` with name, GM ``program``, ``is_drum`` and ``notes``: ``pitch``, ``onset_s``,
    ``offset_s``, ``velocity``, ``onset_qn``, ``offset_qn``; ``tempo_qpm``, ``meter``, ``key``
    (``"A minor"``), ``key_mode`` (``"A dorian"``), ``pickup_qn``, ``beats``, ``downbeats``,
    ``duration_s`` of the audio), plus: ``id``, ``subset``, ``kind``, ``source``, ``source_file``,
    ``license``, ``style``, ``arrangement``, ``audio``, ``sr``, ``key_simple``, ``key_tonic``,
    ``key_fifths``, ``transpose_semitones``, ``instruments`` (part, role, program, instrument name,
    GM name, octave shift), ``soundfont``, ``effects`` (reverb, eq, noise, peak level, mix gains),
    ``performance`` (lead-in, articulation, jitter) and ``seed``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if soundfonts is None:
        fonts = available_soundfonts()
    elif isinstance(soundfonts, dict):
        fonts = dict(soundfonts)
    else:
        avail = available_soundfonts()
        missing = [s for s in soundfonts if s not in avail]
        if missing:
            raise MusicLLMError(f"unknown SoundFont(s) {', '.join(missing)}; available: {', '.join(avail)}")
        fonts = {s: avail[s] for s in soundfonts}
    if not fonts:
        raise MusicLLMError("no SoundFont available: install pretty_midi or fluid-soundfont-gm")

    nott = _shuffled(_abc_pool(_nottingham_files(nottingham_dir), "nottingham"), seed, "nottingham")
    pools = {
        "chorale": _shuffled([(f"bach-chorales/{p.stem}", p) for p in _chorale_paths()], seed, "chorales"),
        "nott-ens": nott[0::2],
        "m21-solo": [],  # filled lazily: reading and splitting the files takes a moment
        "nott-solo": nott[1::2],
    }
    m21_solo_pool: list | None = None
    plan = [("ensemble", ["chorale", "nott-ens"], n_ensemble), ("solo", ["m21-solo", "nott-solo"], n_solo)]
    cursors = dict.fromkeys(pools, 0)
    skipped: Counter = Counter()
    items: list[DevItem] = []
    gts: dict[str, dict] = {}
    used: set[str] = set()
    chorale_modes: Counter = Counter()
    chorale_quota = math.ceil(math.ceil(n_ensemble / 2) / 2)
    t_start = time.time()

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not progress) as bar:
        task = bar.add_task("building dev set", total=n_ensemble + n_solo)
        for kind, cats, n_target in plan:
            for i in range(n_target):
                item_id = f"{'ens' if kind == 'ensemble' else 'solo'}{i:03d}"
                prefs = [cats[i % 2], cats[(i + 1) % 2]]
                made = None
                for cat in prefs:
                    if cat == "m21-solo" and m21_solo_pool is None:
                        pool_items = []
                        for f in _m21_abc_files():
                            pool_items += _abc_pool([f], f.parent.name)
                        m21_solo_pool = _shuffled(pool_items, seed, "m21-solo")
                        pools["m21-solo"] = m21_solo_pool
                    pool = pools[cat]
                    while cursors[cat] < len(pool) and made is None:
                        entry = pool[cursors[cat]]
                        cursors[cat] += 1
                        if entry[0] in used:
                            continue
                        used.add(entry[0])
                        try:
                            if cat == "chorale":
                                piece = _load_chorale(entry[1])
                                # Half major, half minor (dorian-notated minor included): most
                                # chorales are major, and key finding needs both.
                                if chorale_modes[piece.key.major_or_minor] >= chorale_quota:
                                    raise _Skip("mode quota")
                            else:
                                source = "nottingham" if cat.startswith("nott") else entry[0].split("/")[0]
                                piece = _load_abc_tune(entry[0], source, entry[1], entry[2],
                                                       need_chords=(kind == "ensemble"))
                            made = _make_item(piece, kind, item_id, out, seed, max_seconds, fonts, chamber_subsets,
                                              expressive)
                        except _Skip as exc:
                            skipped[str(exc).split(":")[0]] += 1
                    if made is not None:
                        break
                if made is None:
                    console.print(f"[yellow]ran out of pieces for {kind} items after {i}[/yellow]")
                    bar.advance(task, n_target - i)
                    break
                item, gt = made
                if item.source == "bach-chorales":
                    chorale_modes[Key.parse(item.key).major_or_minor] += 1
                items.append(item)
                gts[item.id] = gt
                bar.advance(task)

    _split_subsets(items, seed)
    lines = []
    for it in items:
        gt = gts[it.id]
        gt["subset"] = it.subset
        atomic_write_text(out / it.json, json.dumps(gt, indent=1) + "\n")
        lines.append(json.dumps(asdict(it)))
    atomic_write_text(out / "manifest.jsonl", "".join(line + "\n" for line in lines))
    if progress:
        console.print(f"{len(items)} items in {time.time() - t_start:.1f} s; skipped pieces: "
                      + ", ".join(f"{k} {v}" for k, v in skipped.most_common()))
    return items


def ground_truth_score(json_path: str | os.PathLike) -> Score:
    """The ground truth of one dev-set item as a `Score` (notes in seconds and quarter notes)."""
    return score_from_dict(json.loads(Path(json_path).read_text(encoding="utf-8")))


def read_manifest(out_dir: str | os.PathLike) -> list[dict]:
    """The rows of ``manifest.jsonl`` in a built dev set."""
    text = (Path(out_dir) / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m musicllm.data.devset", description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--n-ensemble", type=int, default=60)
    ap.add_argument("--n-solo", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--soundfont", action="append", dest="soundfonts",
                    help="SoundFont name to use (repeatable); default: all available")
    ap.add_argument("--nottingham-dir", default=None)
    ap.add_argument("--chamber-subsets", type=float, default=0.0, metavar="P",
                    help="probability that a chorale keeps only 2 or 3 voices (duets, trios)")
    ap.add_argument("--expressive", type=float, default=0.0, metavar="P",
                    help="probability that a piece is played with tempo drift, a final ritardando and held fermatas")
    args = ap.parse_args(argv)
    try:
        build_devset(args.out_dir, n_ensemble=args.n_ensemble, n_solo=args.n_solo, seed=args.seed,
                     max_seconds=args.max_seconds, soundfonts=args.soundfonts, nottingham_dir=args.nottingham_dir,
                     chamber_subsets=args.chamber_subsets, expressive=args.expressive)
    except MusicLLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
