"""Corpora of scores: music21's bundled corpus and any folder of ABC, MIDI, MusicXML or kern files.

A corpus is named by a spec:

- ``music21:COLLECTION``: a folder of music21's corpus (``oneills1850``, ``ryansMammoth``,
  ``airdsAirs``, ``miscFolk``, ``essenFolksong``, ``josquin``, ``bach``, ``beethoven``,
  ``palestrina``...; see :func:`music21_collections`), or an alias: ``bach-chorales`` (the MusicXML
  chorales of ``bach``), ``essen``, ``nottingham``, ``oneills``;
- a folder path: every ``.abc``, ``.mid``/``.midi``, ``.musicxml``/``.xml``/``.mxl`` and ``.krn`` file
  below it (recursively; other files are ignored). The collection is named after the folder, or
  ``NAME=DIR`` names it (``nottingham=/data/nottingham/ABC_cleaned``).

Every tune of an ABC file is a piece of its own. :func:`list_pieces` enumerates cheap, picklable
:class:`PieceRef`\\ s in a fixed order (files sorted by relative path, tunes in file order), so that a
build can parse them in worker processes; :func:`load_piece` turns one into a :class:`Piece`: a
`Score` (notes with exact quarter-note times, ``Fraction``, and seconds at the source tempo; repeats
of ABC tunes expanded) plus metadata. Piece ids are ``<collection>/<relative path>`` with
``#<tune index>`` (from 0) for ABC tunes; they are stable as long as the files are.

Metadata: ``title``, ``composer`` (ABC ``C:``, MusicXML/kern metadata), ``origin`` (ABC ``O:``),
``tune_type`` (a dance or form word from ABC ``R:`` or the title: jig, reel, hornpipe, waltz... ;
``chorale`` for Bach chorales; ``None`` when unknown), ``meter``, ``key``, ``collection`` and the
collection's licence (a known table for music21's collections; for folders, detected from a
``LICENSE``/``COPYING`` file in the folder or its parent, else the table's entry for the collection's
name, else ``"unknown"``).

Ground truth is only claimed where the source states it: ``key_known`` is false for MIDI files
without a key signature, for the Essen collection (whose ``K:`` names a final without a mode) and
for MusicXML/kern whose mode is neither declared nor implied by the final bass note (major tonic,
relative minor tonic, or a tone above the major tonic = minor notated with one flat too few, as in
Bach's chorales). A piece whose meter or key changes, or that has no meter (ABC ``M:none``), is
rejected: a `Score` holds one of each. MIDI files without a time signature are read as 4/4 (the MIDI
default). Drum parts and empty parts are dropped.

Bad input never raises anything but :class:`PieceError`, whose ``reason`` is a short category
(``"unreadable"``, ``"no notes"``, ``"meter changes"``...) for reports and ``detail`` one line.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from musicllm.errors import MusicLLMError, NotationError
from musicllm.score.model import MODE_OFFSETS, Key, Meter, Part, Score, pitch_class_of

MUSIC21_PREFIX = "music21:"
ABC_EXTENSIONS = (".abc",)
MIDI_EXTENSIONS = (".mid", ".midi")
MUSICXML_EXTENSIONS = (".musicxml", ".xml", ".mxl")
KERN_EXTENSIONS = (".krn",)
SCORE_EXTENSIONS = ABC_EXTENSIONS + MIDI_EXTENSIONS + MUSICXML_EXTENSIONS + KERN_EXTENSIONS

MUSIC21_LICENSE = "public domain music; encoding from the music21 corpus (BSD-3-Clause)"
#: Licences of known collections (music21 corpus folders and the shared Nottingham folder).
COLLECTION_LICENSES = {
    "bach-chorales": MUSIC21_LICENSE,
    "nottingham": "GPL-3.0 (Nottingham Music Database, jukedeck/nottingham-dataset cleaning)",
    "oneills1850": "public domain music; ABC from the music21 corpus (BSD-3-Clause)",
    "ryansMammoth": "public domain music; ABC from the music21 corpus (BSD-3-Clause)",
    "airdsAirs": "public domain music; ABC from the music21 corpus (BSD-3-Clause)",
    "miscFolk": "public domain music; ABC from the music21 corpus (BSD-3-Clause)",
    "essenFolksong": "Essen Folksong Collection (H. Schaffrath); ABC from the music21 corpus (BSD-3-Clause)",
}
#: Aliases accepted after ``music21:`` -> (corpus folder, extensions to take).
MUSIC21_ALIASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "bach-chorales": ("bach", MUSICXML_EXTENSIONS),
    "chorales": ("bach", MUSICXML_EXTENSIONS),
    "essen": ("essenFolksong", ABC_EXTENSIONS),
    "nottingham": ("nottingham-dataset", ABC_EXTENSIONS),
    "oneills": ("oneills1850", ABC_EXTENSIONS),
}
#: Collections whose ``K:`` field is no key ground truth.
KEYLESS_COLLECTIONS = frozenset({"essenFolksong"})

_TUNE_TYPES = ("slip jig", "slipjig", "jig", "reel", "hornpipe", "waltz", "polka", "march", "strathspey",
               "slide", "mazurka", "schottische", "barndance", "set dance", "air", "chorale", "minuet",
               "gavotte", "bourree", "sarabande", "gigue", "song", "lied", "ballad")


class PieceError(MusicLLMError):
    """A piece that cannot be used: ``reason`` is a short category, ``detail`` one line."""

    def __init__(self, piece_id: str, reason: str, detail: str = ""):
        self.piece_id, self.reason, self.detail = piece_id, reason, detail.strip().splitlines()[0] if detail else ""
        super().__init__(f"{piece_id}: {reason}" + (f" ({self.detail})" if self.detail else ""))


@dataclass(frozen=True)
class PieceRef:
    """Where a piece is: cheap to make and to send to another process.

    ``path`` is the file on this machine, ``rel_path`` its path inside the collection (posix, the same
    on every machine); ``fmt`` is ``"abc"``, ``"midi"``, ``"musicxml"`` or ``"kern"``; ``text`` holds
    the tune's own ABC text (one tune of a possibly many-tune file), ``tune_index`` its position.
    """

    piece_id: str
    collection: str
    path: str
    rel_path: str
    fmt: str
    license: str
    tune_index: int = 0
    text: str | None = None


@dataclass
class Piece:
    """A parsed piece: its `Score` (quarter notes exact, seconds at the source tempo) and metadata."""

    ref: PieceRef
    score: Score
    title: str
    composer: str | None = None
    origin: str | None = None
    tune_type: str | None = None
    key_known: bool = True
    has_tempo: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def piece_id(self) -> str:
        return self.ref.piece_id

    @property
    def meter(self) -> Meter:
        return self.score.meter

    @property
    def key(self) -> Key | None:
        return self.score.key if self.key_known else None

    def metadata(self) -> dict:
        """JSON-ready metadata: ids, title, meter, key (``None`` when unknown), licence..."""
        return {
            "piece_id": self.piece_id, "title": self.title, "composer": self.composer, "origin": self.origin,
            "tune_type": self.tune_type, "meter": str(self.meter), "key": str(self.key) if self.key else None,
            "source_tempo_qpm": round(float(self.score.tempo_qpm), 3) if self.has_tempo else None,
            "collection": self.ref.collection, "license": self.ref.license,
            "source_file": self.ref.rel_path, "tune_index": self.ref.tune_index if self.ref.fmt == "abc" else None,
            "n_parts": len(self.score.parts),
        }


@dataclass
class Failure:
    """A piece (or one rendering of it: ``item_id``) left out of a build, with the reason."""

    piece_id: str
    reason: str
    detail: str = ""
    item_id: str | None = None

    def to_dict(self) -> dict:
        return {"piece_id": self.piece_id, "item_id": self.item_id, "reason": self.reason, "detail": self.detail}


# ---------------------------------------------------------------------------------------------------
# Keys

_LETTERS = "CDEFGAB"
_NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR_BY_FIFTHS = {-7: "Cb", -6: "Gb", -5: "Db", -4: "Ab", -3: "Eb", -2: "Bb", -1: "F", 0: "C", 1: "G",
                    2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#"}
_MODE_DEGREE = {"major": 0, "ionian": 0, "dorian": 1, "phrygian": 2, "lydian": 3, "mixolydian": 4,
                "minor": 5, "aeolian": 5, "locrian": 6}


def key_from_fifths(fifths: int, mode: str) -> Key:
    """The key with ``fifths`` sharps (>0) or flats (<0) in the given mode (``-1, "dorian"`` -> G dorian)."""
    major = _MAJOR_BY_FIFTHS[fifths]
    letter = _LETTERS[(_LETTERS.index(major[0]) + _MODE_DEGREE[mode]) % 7]
    pc = (pitch_class_of(major) + MODE_OFFSETS[mode]) % 12
    acc = (pc - _NATURAL_PC[letter] + 6) % 12 - 6
    return Key(letter + ("#" * acc if acc > 0 else "b" * -acc), mode)


def transpose_key(key: Key, semitones: int) -> Key:
    """``key`` moved by ``semitones``, spelled with the key signature of fewest accidentals (flats on ties)."""
    if semitones % 12 == 0:
        return key
    major_pc = (key.tonic_pc + semitones - MODE_OFFSETS[key.mode]) % 12
    options = [f for f in range(-7, 8) if (7 * f) % 12 == major_pc]
    fifths = min(options, key=lambda f: (abs(f), f))
    return key_from_fifths(fifths, key.mode)


# ---------------------------------------------------------------------------------------------------
# Listing

def music21_corpus_dir() -> Path:
    """The folder of music21's bundled corpus."""
    import music21

    return Path(music21.__file__).parent / "corpus"


def music21_collections() -> list[str]:
    """Folders of music21's corpus that hold score files (sorted), usable as ``music21:NAME``."""
    base = music21_corpus_dir()
    out = []
    for d in sorted(base.iterdir(), key=lambda p: p.name.lower()):
        if d.is_dir() and not d.name.startswith(("_", ".")) and any(
                f.suffix.lower() in SCORE_EXTENSIONS for f in d.rglob("*") if f.is_file()):
            out.append(d.name)
    return out


def _fmt_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    for fmt, exts in (("abc", ABC_EXTENSIONS), ("midi", MIDI_EXTENSIONS), ("musicxml", MUSICXML_EXTENSIONS),
                      ("kern", KERN_EXTENSIONS)):
        if ext in exts:
            return fmt
    return None


def _score_files(root: Path, extensions: tuple[str, ...]) -> list[Path]:
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


_SPDX_GUESSES = (
    (r"GNU GENERAL PUBLIC LICENSE.*Version 3", "GPL-3.0"), (r"GNU GENERAL PUBLIC LICENSE.*Version 2", "GPL-2.0"),
    (r"GNU LESSER GENERAL PUBLIC LICENSE", "LGPL"), (r"MIT License|Permission is hereby granted, free of charge",
                                                     "MIT"),
    (r"Apache License.*Version 2\.0", "Apache-2.0"), (r"CC0|Creative Commons Zero", "CC0-1.0"),
    (r"Attribution-ShareAlike 4\.0", "CC-BY-SA-4.0"), (r"Attribution 4\.0", "CC-BY-4.0"),
    (r"BSD 3-Clause|Redistribution and use in source and binary forms", "BSD-3-Clause"),
)


def detect_license(folder: str | os.PathLike) -> str:
    """The licence of a folder of scores from a ``LICENSE``/``LICENCE``/``COPYING`` file in it or its
    parent: an SPDX-style name when recognised, else the file's first line; ``"unknown"`` without one."""
    root = Path(folder)
    for d in (root, root.parent):
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.is_file() and re.match(r"(LICEN[CS]E|COPYING)(\.|$)", f.name, re.I):
                try:
                    text = f.read_text(encoding="utf-8", errors="replace")[:4000]
                except OSError:
                    continue
                m = re.search(r"SPDX-License-Identifier:\s*(\S+)", text)
                if m:
                    return m.group(1)
                flat = " ".join(text.split())
                for pattern, name in _SPDX_GUESSES:
                    if re.search(pattern, flat, re.I):
                        return name
                first = next((ln.strip(" #") for ln in text.splitlines() if ln.strip(" #")), "")
                return first[:80] or "unknown"
    return "unknown"


def _resolve_spec(spec: str) -> tuple[str, Path, tuple[str, ...], str]:
    """(collection, root folder, extensions, licence) of a corpus spec."""
    if spec.startswith(MUSIC21_PREFIX):
        name = spec[len(MUSIC21_PREFIX):].strip().strip("/")
        base = music21_corpus_dir()
        if name.lower() in MUSIC21_ALIASES:
            folder, exts = MUSIC21_ALIASES[name.lower()]
            collection = name.lower() if name.lower() == "bach-chorales" else folder
        else:
            names = {n.lower(): n for n in music21_collections()}
            if name.lower() not in names:
                known = ", ".join([*music21_collections(), *MUSIC21_ALIASES])
                raise MusicLLMError(f"unknown music21 collection {name!r}; known: {known}")
            folder, exts, collection = names[name.lower()], SCORE_EXTENSIONS, names[name.lower()]
        licence = COLLECTION_LICENSES.get(collection, COLLECTION_LICENSES.get(folder, MUSIC21_LICENSE))
        return collection, base / folder, exts, licence
    name = None
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)=(.+)", spec)
    if m and not Path(spec).exists():
        name, spec = m.group(1), m.group(2)
    root = Path(spec).expanduser()
    if not root.exists():
        raise MusicLLMError(f"{spec}: no such folder (give a folder of scores or music21:COLLECTION)")
    if not root.is_dir():
        raise MusicLLMError(f"{spec}: not a folder (give a folder of scores or music21:COLLECTION)")
    collection = name or root.resolve().name
    licence = detect_license(root)
    if licence == "unknown":
        licence = COLLECTION_LICENSES.get(collection, licence)
    return collection, root, SCORE_EXTENSIONS, licence


def list_pieces(spec: str, *, limit: int | None = None) -> list[PieceRef]:
    """The pieces of a corpus (see the module docstring for specs), at most ``limit`` of them (the
    first ones in the fixed order). Raises `MusicLLMError` for an unknown collection, a missing
    folder or a corpus without score files."""
    collection, root, exts, licence = _resolve_spec(spec)
    files = _score_files(root, exts)
    if not files:
        raise MusicLLMError(f"{spec}: no score files ({', '.join(exts)}) found")
    from musicllm.score.abc import split_tunes

    refs: list[PieceRef] = []
    for f in files:
        if limit is not None and len(refs) >= limit:
            break
        rel = f.relative_to(root).as_posix()
        fmt = _fmt_of(f)
        if fmt != "abc":
            refs.append(PieceRef(f"{collection}/{rel}", collection, str(f), rel, fmt or "", licence))
            continue
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:  # listed as a piece so that the failure shows up in the report
            refs.append(PieceRef(f"{collection}/{rel}#0", collection, str(f), rel, "abc", licence, 0,
                                 f"%unreadable file: {exc.strerror or exc}"))
            continue
        for i, tune in enumerate(split_tunes(text)):
            if not tune.strip():
                continue
            refs.append(PieceRef(f"{collection}/{rel}#{i}", collection, str(f), rel, "abc", licence, i, tune))
    return refs[:limit] if limit is not None else refs


# ---------------------------------------------------------------------------------------------------
# Loading

def abc_header_fields(tune: str, name: str) -> list[str]:
    """Values of the ``name:`` field lines of an ABC tune's header (the lines before its first ``K:``),
    with ``%`` comments removed."""
    out = []
    for line in tune.splitlines():
        m = re.match(r"\s*([A-Za-z]):(.*)$", line)
        if not m:
            continue
        if m.group(1) == name:
            out.append(re.split(r"(?<!\\)%", m.group(2), maxsplit=1)[0].strip())
        if m.group(1) == "K":
            break
    return out


def tune_type(*hints: str | None) -> str | None:
    """The first dance or form word (jig, reel, hornpipe, waltz, chorale...) found in the hints
    (an ABC ``R:`` field, a title...), lower case; ``None`` when there is none."""
    for hint in hints:
        if not hint:
            continue
        text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", hint).lower()
        for word in _TUNE_TYPES:
            if re.search(rf"\b{word}s?\b", text):
                return "slip jig" if word in ("slipjig", "slip jig") else word
    return None


def _first(values: list[str]) -> str | None:
    return next((v for v in values if v), None)


def _abc_changes(piece_id: str, tune: str, meter: Meter | None, key: Key | None) -> None:
    """Raise `PieceError` when a ``M:`` or ``K:`` field in the tune body changes the meter or key."""
    from musicllm.score.abc_read import parse_key, parse_meter

    lines = tune.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"\s*K:", ln)), len(lines))
    body = "\n".join(lines[start + 1:])
    values = [("M", m.group(1)) for m in re.finditer(r"^\s*M:(.*)$", body, re.M)]
    values += [("K", m.group(1)) for m in re.finditer(r"^\s*K:(.*)$", body, re.M)]
    values += [(m.group(1), m.group(2)) for m in re.finditer(r"\[([KM]):([^\]]*)\]", body)]
    for fld, value in values:
        if fld == "M":
            try:
                new = parse_meter(value)
            except ValueError:
                new = None
            if new != meter:
                raise PieceError(piece_id, "meter changes", f"M:{value.strip()}")
        else:
            new_key = parse_key(value)[0]
            if new_key is not None and key is not None and new_key != key:
                raise PieceError(piece_id, "key changes", f"K:{value.strip()}")


def _load_abc(ref: PieceRef) -> Piece:
    from musicllm.score.abc_read import parse_key, parse_meter, read_abc_with_warnings

    tune = ref.text or ""
    if tune.startswith("%unreadable file:"):
        raise PieceError(ref.piece_id, "unreadable", tune[1:])
    meters = abc_header_fields(tune, "M")
    try:
        meter = parse_meter(meters[-1]) if meters else None
    except ValueError as exc:
        raise PieceError(ref.piece_id, "unreadable", str(exc)) from None
    if meter is None:
        raise PieceError(ref.piece_id, "no meter", "free meter (M:none or no M:)")
    keys = abc_header_fields(tune, "K")
    if not keys:
        raise PieceError(ref.piece_id, "unreadable", "no K: field")
    head_key = parse_key(keys[0])[0]
    _abc_changes(ref.piece_id, tune, meter, head_key)
    try:
        score, warns = read_abc_with_warnings(tune, expand_repeats=True)
    except NotationError as exc:
        raise PieceError(ref.piece_id, "unreadable", str(exc)) from None
    titles = abc_header_fields(tune, "T")
    title = _first(titles) or Path(ref.path).stem
    rhythm = _first(abc_header_fields(tune, "R"))
    key_known = head_key is not None and re.match(r"\s*(none|HP|Hp)\b", keys[0]) is None \
        and ref.collection not in KEYLESS_COLLECTIONS
    return Piece(ref, score, title=title, composer=_first(abc_header_fields(tune, "C")),
                 origin=_first(abc_header_fields(tune, "O")),
                 tune_type=tune_type(rhythm, title, Path(ref.path).stem),
                 key_known=key_known, has_tempo=bool(abc_header_fields(tune, "Q")), warnings=warns)


def _midi_meta(path: Path) -> tuple[set[str], set[str], bool]:
    """(time signatures, key signatures, has a tempo event) of a MIDI file, read with mido."""
    import mido

    sigs: set[str] = set()
    keys: set[str] = set()
    tempo = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mid = mido.MidiFile(filename=str(path), clip=True)
    for track in mid.tracks:
        for msg in track:
            if msg.type == "time_signature":
                sigs.add(f"{msg.numerator}/{msg.denominator}")
            elif msg.type == "key_signature":
                keys.add(msg.key)
            elif msg.type == "set_tempo":
                tempo = True
    return sigs, keys, tempo


def _load_midi(ref: PieceRef) -> Piece:
    from musicllm.score.midi import read_midi

    path = Path(ref.path)
    try:
        score = read_midi(path)
        sigs, keys, has_tempo = _midi_meta(path)
    except NotationError as exc:
        raise PieceError(ref.piece_id, "unreadable", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - mido raises many kinds of error on bad files
        raise PieceError(ref.piece_id, "unreadable", f"{type(exc).__name__}: {exc}") from None
    if len(sigs) > 1:
        raise PieceError(ref.piece_id, "meter changes", ", ".join(sorted(sigs)))
    if len(keys) > 1:
        raise PieceError(ref.piece_id, "key changes", ", ".join(sorted(keys)))
    return Piece(ref, score, title=score.title or path.stem, tune_type=tune_type(score.title, path.stem),
                 key_known=bool(keys), has_tempo=has_tempo)


def _mode_from_final(score: Score, fifths: int) -> str | None:
    """Mode implied by the lowest note of the final chord against a key signature of ``fifths``."""
    notes = [n for p in score.parts for n in p.notes if n.onset_qn is not None]
    if not notes:
        return None
    last = max(n.onset_qn for n in notes)
    final_pc = min(n.pitch for n in notes if n.onset_qn == last) % 12
    return {0: "major", 9: "minor", 2: "dorian"}.get((final_pc - 7 * fifths) % 12)


def _load_music21(ref: PieceRef) -> Piece:
    from music21 import converter, stream
    from music21 import key as m21key
    from music21 import meter as m21meter

    from musicllm.score.musicxml import music21_to_score

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = converter.parse(ref.path)
    except Exception as exc:  # noqa: BLE001 - music21 raises many kinds of error on bad input
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PieceError(ref.piece_id, "unreadable", msg) from None
    if isinstance(parsed, stream.Opus):
        raise PieceError(ref.piece_id, "several pieces in one file", f"an opus of {len(parsed.scores)} scores")
    ts = {t.ratioString for t in parsed.recurse().getElementsByClass(m21meter.TimeSignature)}
    if len(ts) > 1:
        raise PieceError(ref.piece_id, "meter changes", ", ".join(sorted(ts)))
    sigs = list(parsed.recurse().getElementsByClass(m21key.KeySignature))
    if len({k.sharps for k in sigs}) > 1:
        raise PieceError(ref.piece_id, "key changes", ", ".join(sorted({str(k.sharps) for k in sigs})))
    try:
        score = music21_to_score(parsed)
    except Exception as exc:  # noqa: BLE001
        raise PieceError(ref.piece_id, "unreadable", f"{type(exc).__name__}: {exc}") from None
    key_known = False
    if sigs:
        declared = getattr(sigs[0], "mode", None) if isinstance(sigs[0], m21key.Key) else None
        mode = declared if declared in ("major", "minor") else _mode_from_final(score, sigs[0].sharps)
        if mode is not None and -7 <= sigs[0].sharps <= 7:
            score.key, key_known = key_from_fifths(sigs[0].sharps, mode), True
    md = parsed.metadata
    title = (md.title or md.movementName or "") if md is not None else ""
    composer = (md.composer or None) if md is not None else None
    has_tempo = bool(list(parsed.recurse().getElementsByClass("MetronomeMark")))
    stem = Path(ref.path).stem
    chorale = ref.collection == "bach-chorales" or (ref.collection == "bach" and len(score.parts) in (4, 5))
    title = str(title or "")
    if not title or title == Path(ref.path).name or title == stem:
        title = f"Chorale BWV {stem.removeprefix('bwv')}" if chorale and stem.startswith("bwv") else stem
    return Piece(ref, score, title=title, composer=str(composer) if composer else None,
                 tune_type="chorale" if chorale else tune_type(title, stem), key_known=key_known,
                 has_tempo=has_tempo)


def _clean_parts(piece: Piece) -> Piece:
    """Drop drum and empty parts; raise when nothing pitched is left or notes lack beat positions."""
    parts: list[Part] = [p for p in piece.score.parts if p.notes and not p.is_drum]
    if not parts:
        raise PieceError(piece.piece_id, "no notes", "no pitched notes")
    if any(n.onset_qn is None or n.offset_qn is None for p in parts for n in p.notes):
        raise PieceError(piece.piece_id, "unquantised", "notes without beat positions")
    piece.score.parts = parts
    if piece.score.pickup_qn is None:
        piece.score.pickup_qn = Fraction(0)
    return piece


def load_piece(ref: PieceRef) -> Piece:
    """Parse one piece; raises `PieceError` (with a reason category) for anything unusable."""
    loaders = {"abc": _load_abc, "midi": _load_midi, "musicxml": _load_music21, "kern": _load_music21}
    if ref.fmt not in loaders:
        raise PieceError(ref.piece_id, "unsupported format", Path(ref.path).suffix)
    if ref.fmt != "abc" and not Path(ref.path).is_file():
        raise PieceError(ref.piece_id, "unreadable", "file vanished")
    return _clean_parts(loaders[ref.fmt](ref))


def iter_pieces(spec: str, *, limit: int | None = None, failures: list[Failure] | None = None) -> Iterator[Piece]:
    """Parse and yield the pieces of a corpus in order; unusable ones are appended to ``failures``
    (when given) with their reason and skipped."""
    for ref in list_pieces(spec, limit=limit):
        try:
            yield load_piece(ref)
        except PieceError as exc:
            if failures is not None:
                failures.append(Failure(ref.piece_id, exc.reason, exc.detail))


def piece_hash(piece_id: str) -> bytes:
    """SHA-256 of a piece id: the source of per-piece seeds and of the split."""
    return hashlib.sha256(piece_id.encode("utf-8")).digest()
