"""Standard MIDI files <-> `Score`, through pretty_midi (and mido for the few meta events it drops).

Writing: track 0 holds the tempo (``score.tempo_qpm``, one constant tempo), the time signature, the key
signature and the title (as its track name); then one track per part with the part's name, its
General MIDI program and its notes at their stored times in seconds. Drum parts go on channel 10.

Reading: one part per (track, program, channel) as pretty_midi groups them, notes with seconds and
exact quarter-note positions (``Fraction(tick, ticks_per_beat)``); tempo from the first tempo event,
meter from the first time signature, key from the first key signature (C major without one), title
from the first track's name when that track holds no notes.
"""

from __future__ import annotations

import io
import os
import warnings
from fractions import Fraction
from pathlib import Path

import mido
import pretty_midi

from musicllm.errors import NotationError
from musicllm.files import atomic_write_bytes
from musicllm.score.jsonio import implied_beat_grid
from musicllm.score.model import Key, Meter, Note, Part, Score

#: Ticks per quarter note of written files: divisible by 3, 4, 5, 16 and fine enough that a note's
#: time in seconds survives a round trip to well under a millisecond at any usual tempo.
RESOLUTION = 960

# Key names mido can write as a key signature (sharps/flats + major/minor).
_MIDO_KEYS = {
    "A", "A#m", "Ab", "Abm", "Am", "B", "Bb", "Bbm", "Bm", "C", "C#", "C#m", "Cb", "Cm", "D", "D#m",
    "Db", "Dm", "E", "Eb", "Ebm", "Em", "F", "F#", "F#m", "Fm", "G", "G#m", "Gb", "Gm",
}


def _tempo_us(tempo_qpm: float) -> int:
    """Microseconds per quarter note as stored in the file (an integer)."""
    if not tempo_qpm or tempo_qpm <= 0:
        raise ValueError(f"tempo must be positive, got {tempo_qpm!r}")
    return max(1, min(0xFFFFFF, round(60_000_000 / float(tempo_qpm))))


def _mido_key_name(key: Key) -> str:
    """The key as mido spells a key signature; modes map to their major/minor tonic (A dorian -> Am)."""
    simple = key.simplified()
    name = simple.tonic + ("m" if simple.mode == "minor" else "")
    if name in _MIDO_KEYS:
        return name
    # Enharmonic respelling for tonics mido cannot write (D# major, Fb major...).
    pc = simple.tonic_pc
    for cand in (("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")[pc],
                 ("C", "C#", "D", "D#", "E", "F", "Gb", "G", "G#", "A", "A#", "B")[pc]):
        cand_name = cand + ("m" if simple.mode == "minor" else "")
        if cand_name in _MIDO_KEYS:
            return cand_name
    return "C"


def _pretty_midi_key_number(key: Key) -> int:
    simple = key.simplified()
    return simple.tonic_pc + (12 if simple.mode == "minor" else 0)


def score_to_pretty_midi(score: Score) -> pretty_midi.PrettyMIDI:
    """The score as a ``PrettyMIDI`` object (constant tempo ``score.tempo_qpm``, notes in seconds)."""
    us = _tempo_us(score.tempo_qpm)
    pm = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=60_000_000 / us)
    pm.time_signature_changes.append(
        pretty_midi.TimeSignature(score.meter.numerator, score.meter.denominator, 0.0))
    pm.key_signature_changes.append(pretty_midi.KeySignature(_pretty_midi_key_number(score.key), 0.0))
    tick_s = us / 1e6 / RESOLUTION
    for part in score.parts:
        inst = pretty_midi.Instrument(program=int(min(max(part.program, 0), 127)),
                                      is_drum=bool(part.is_drum), name=part.name or "")
        for n in part.notes:
            start = max(0.0, float(n.onset_s))
            # A note must last at least one tick, or its note-off would land before its note-on.
            end = max(float(n.offset_s), start + tick_s)
            inst.notes.append(pretty_midi.Note(
                velocity=int(min(max(n.velocity, 1), 127)), pitch=int(min(max(n.pitch, 0), 127)),
                start=start, end=end))
        inst.notes.sort(key=lambda x: (x.start, x.pitch))
        pm.instruments.append(inst)
    return pm


def score_to_midi_bytes(score: Score) -> bytes:
    """The bytes of a type-1 standard MIDI file for ``score``."""
    pm = score_to_pretty_midi(score)
    buf = io.BytesIO()
    pm.write(buf)
    # pretty_midi loses the key's spelling (Gb vs F#) and writes no title: patch track 0 with mido.
    mid = mido.MidiFile(file=io.BytesIO(buf.getvalue()))
    track0 = mid.tracks[0]
    key_name = _mido_key_name(score.key)
    for i, msg in enumerate(track0):
        if msg.type == "key_signature":
            track0[i] = msg.copy(key=key_name)
            break
    if score.title:
        track0.insert(0, mido.MetaMessage("track_name", name=score.title, time=0))
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def write_midi(score: Score, path: str | os.PathLike) -> Path:
    """Write ``score`` as a standard MIDI file (atomically) and return the path."""
    return atomic_write_bytes(path, score_to_midi_bytes(score))


def _load_mido(path: Path) -> mido.MidiFile:
    if not path.exists():
        raise NotationError(f"{path}: no such MIDI file")
    if path.is_dir():
        raise NotationError(f"{path}: is a folder, not a MIDI file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mido.MidiFile(filename=str(path), clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise NotationError(f"{path}: not a readable MIDI file ({exc})") from None


def read_midi(path: str | os.PathLike) -> Score:
    """Read a standard MIDI file into a `Score` (see the module docstring for what is kept)."""
    path = Path(path)
    mid = _load_mido(path)
    if mid.type == 2:
        raise NotationError(f"{path}: type-2 (asynchronous) MIDI files are not supported")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "tempo changes on non-zero tracks" and the like
            pm = pretty_midi.PrettyMIDI(mido_object=mid)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise NotationError(f"{path}: not a readable MIDI file ({exc})") from None
    res = pm.resolution

    # Meta events, in absolute ticks, in file order across tracks.
    tempo_qpm: float | None = None
    meter: Meter | None = None
    key: Key | None = None
    title = ""
    first_tempo_tick = first_ts_tick = first_key_tick = None
    for t_idx, track in enumerate(mid.tracks):
        tick = 0
        has_notes = False
        name = ""
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo" and (first_tempo_tick is None or tick < first_tempo_tick):
                first_tempo_tick, tempo_qpm = tick, mido.tempo2bpm(msg.tempo)
            elif msg.type == "time_signature" and (first_ts_tick is None or tick < first_ts_tick):
                first_ts_tick, meter = tick, Meter(msg.numerator, msg.denominator)
            elif msg.type == "key_signature" and (first_key_tick is None or tick < first_key_tick):
                try:
                    first_key_tick, key = tick, Key.parse(msg.key)
                except ValueError:
                    pass
            elif msg.type == "track_name" and not name:
                name = msg.name.strip()
            elif msg.type == "note_on":
                has_notes = True
        if t_idx == 0 and name and (not has_notes or len(mid.tracks) == 1):
            title = name

    parts: list[Part] = []
    for inst in pm.instruments:
        notes = []
        for pn in sorted(inst.notes, key=lambda x: (x.start, x.pitch)):
            on_tick = pm.time_to_tick(pn.start)
            off_tick = pm.time_to_tick(pn.end)
            notes.append(Note(pitch=int(pn.pitch), onset_s=float(pn.start), offset_s=float(pn.end),
                              velocity=int(pn.velocity), onset_qn=Fraction(int(on_tick), res),
                              offset_qn=Fraction(int(off_tick), res)))
        name = inst.name.strip() or (
            "Drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program))
        parts.append(Part(name=name, program=int(inst.program), notes=notes, is_drum=bool(inst.is_drum)))

    meter = meter or Meter(4, 4)
    score = Score(parts=parts, tempo_qpm=float(tempo_qpm or 120.0), meter=meter, key=key or Key("C", "major"),
                  title=title, duration_s=float(pm.get_end_time()))
    end_qn = Fraction(pm.time_to_tick(score.duration_s), res)

    def qn_to_s(qn: Fraction) -> float:
        return float(pm.tick_to_time(int(round(qn * res))))

    score.beat_times_s, score.downbeat_times_s = implied_beat_grid(score, end_qn=end_qn, qn_to_s=qn_to_s)
    return score
