"""The built-in (LLM-free) answerer and captioner: sentences written only from :class:`MusicFacts`.

Rules every sentence follows:

- a value is stated only when its confidence is at least :data:`~musicllm.analysis.facts.USABLE`;
  under :data:`~musicllm.analysis.facts.CONFIDENT` it is hedged ("probably", "seems", "possibly");
  otherwise the answer says plainly that it cannot tell (every such sentence contains "can't tell" or
  "cannot tell");
- instruments, genres and moods come only from the tagger's tags, never from other fields;
- tempo is rounded to whole BPM (quarter notes per minute, :attr:`MusicFacts.tempo_qpm`); the felt beat
  (:attr:`MusicFacts.beat_bpm`) is named when it differs (compound meters); keys read "G major"; times
  read m:ss (:func:`~musicllm.analysis.facts.format_time`); loudness numbers are in the unit of
  :attr:`Dynamics.reference` (LUFS from :mod:`musicllm.analysis.dynamics`);
- the transcribed-note summary (range, density, texture, parts, contour) carries no confidence and is
  reported as measured.

The pace word of a tempo (:func:`tempo_feel`) uses the felt beat: slow under 80, moderate under 116,
fast from 116 beats per minute.

Each answer function returns ``(text, grounded_on)`` where ``grounded_on`` lists the MusicFacts fields
the text was written from (``"tempo_qpm"``, ``"key"``, ``"chords"``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from musicllm.analysis.facts import (
    CONFIDENT,
    USABLE,
    Measured,
    MusicFacts,
    Span,
    Tag,
    format_span,
    format_time,
    pitch_name,
    readable_chord,
)
from musicllm.language.intents import Intent, instrument_matches
from musicllm.language.phrasing import Phraser, article, capitalize_first, join_list
from musicllm.score.model import pitch_class_of

SLOW_BELOW = 80.0       # felt beats per minute
FAST_FROM = 116.0
NO_CHORD = ("N", "X", "")

Result = tuple[str, list[str]]


# -- reading facts --------------------------------------------------------------------------------
def usable(m: Measured | None) -> bool:
    return m is not None and m.value is not None and m.confidence >= USABLE


def hedged(conf: float) -> bool:
    return conf < CONFIDENT


def parse_key(value: Any) -> tuple[str, str] | None:
    """``"G major"`` / ``"E minor"`` / ``"G:maj"`` / ``"Em"`` / ``{"tonic":..,"mode":..}`` -> (tonic, mode)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("tonic")), str(value.get("mode", "major"))
    text = str(value).strip()
    m = re.fullmatch(r"([A-G][#b]?)\s*[: ]\s*([A-Za-z]+)", text)
    if m:
        mode = m.group(2).lower()
        mode = {"maj": "major", "min": "minor"}.get(mode, mode)
        return m.group(1), mode
    m = re.fullmatch(r"([A-G][#b]?)(m?)", text)
    if m:
        return m.group(1), "minor" if m.group(2) else "major"
    return None


def key_name(value: Any) -> str | None:
    k = parse_key(value)
    return f"{k[0]} {k[1]}" if k else None


def parse_meter(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    return (int(m.group(1)), int(m.group(2))) if m else None


def usable_tags(tags: list[Tag]) -> list[Tag]:
    return sorted((t for t in tags if t.confidence >= USABLE), key=lambda t: -t.confidence)


def usable_chords(facts: MusicFacts) -> list[Span]:
    return [c for c in facts.chords if c.label not in NO_CHORD and c.confidence >= USABLE]


def usable_sections(facts: MusicFacts) -> list[Span]:
    return [s for s in facts.sections if s.confidence >= USABLE]


def felt_bpm(facts: MusicFacts) -> tuple[float, float] | None:
    """(felt beats per minute, confidence): ``beat_bpm`` when usable, else ``tempo_qpm``."""
    for m in (facts.beat_bpm, facts.tempo_qpm):
        if usable(m):
            return float(m.value), float(m.confidence)
    return None


def tempo_feel(bpm: float) -> str:
    """Pace word for a felt-beat rate: "slow", "moderate" or "fast" (see the module docstring)."""
    if bpm < SLOW_BELOW:
        return "slow"
    if bpm < FAST_FROM:
        return "moderate"
    return "fast"


def db_unit(facts: MusicFacts) -> str:
    ref = (facts.dynamics.reference if facts.dynamics else "") or "dB"
    return "LUFS" if "LUFS" in ref.upper() else "dB"


def dynamics_usable(facts: MusicFacts) -> bool:
    d = facts.dynamics
    return d is not None and d.confidence >= USABLE and bool(d.level)


# -- times --------------------------------------------------------------------------------------------
def resolve_time(slots: dict[str, Any], facts: MusicFacts) -> tuple[float, float | None, str]:
    """(start s, end s or None for a moment, how to say it) from an intent's time slots."""
    dur = facts.duration_s
    anchor = slots.get("anchor")
    if anchor == "end":
        span = slots.get("span_s")
        if span:
            start = max(0.0, dur - float(span))
            return start, dur, f"in the last {round(dur - start)} seconds ({format_time(start)}–{format_time(dur)})"
        return max(0.0, dur - 1e-3), None, f"at the end ({format_time(dur)})"
    if anchor == "middle":
        return dur / 2, None, f"halfway through ({format_time(dur / 2)})"
    t0 = float(slots.get("time_s", 0.0))
    t1 = slots.get("time_end_s")
    if t1 is not None:
        return t0, float(t1), f"between {format_time(t0)} and {format_time(float(t1))}"
    return t0, None, f"at {format_time(t0)}"


def _beyond(facts: MusicFacts, t0: float, p: Phraser) -> str | None:
    if t0 > facts.duration_s + 0.5:
        return p.pick((
            f"The recording is only {format_time(facts.duration_s)} long, so nothing plays at {format_time(t0)}.",
            f"That's past the end: the recording lasts {format_time(facts.duration_s)}.",
        ))
    return None


def _spans_in(spans: list[Span], t0: float, t1: float) -> list[Span]:
    return [s for s in spans if s.end_s > t0 and s.start_s < t1]


def _merge_labels(spans: list[Span]) -> list[str]:
    out: list[str] = []
    for s in spans:
        name = readable_chord(s.label)
        if not out or out[-1] != name:
            out.append(name)
    return out


# -- the answers --------------------------------------------------------------------------------------
class Answerer:
    """Writes the answer for one (facts, intent) pair; wording is seeded by ``seed`` (the question)."""

    def __init__(self, facts: MusicFacts, intent: Intent, seed: str) -> None:
        self.f = facts
        self.intent = intent
        self.p = Phraser(seed)

    def answer(self) -> Result:
        fn: Callable[[], Result] = getattr(self, "a_" + self.intent.name, self.a_unknown)
        text, used = fn()
        if self.intent.slots and self.intent.name in _GLOBAL_INTENTS and ("time_s" in self.intent.slots
                                                                          or "anchor" in self.intent.slots):
            text = self.p.pick(("That is measured over the whole recording, not moment by moment: ",
                                "I only have this for the whole recording, not per moment: ")) + _lower_first(text)
        return text, used

    # tempo, pace -------------------------------------------------------------------------------
    def _compound_note(self) -> str:
        f = self.f
        meter = parse_meter(f.meter.value) if usable(f.meter) else None
        if (meter and meter[1] == 8 and meter[0] in (6, 9, 12) and usable(f.beat_bpm)
                and abs(float(f.beat_bpm.value) - float(f.tempo_qpm.value)) >= 2):
            return (f" That counts quarter notes; the felt beat (a dotted quarter) is about "
                    f"{round(float(f.beat_bpm.value))} per minute.")
        return ""

    def a_tempo(self) -> Result:
        f, p = self.f, self.p
        if not usable(f.tempo_qpm):
            return p.cant_tell("tempo"), ["tempo_qpm"]
        v = round(float(f.tempo_qpm.value))
        if hedged(f.tempo_qpm.confidence):
            text = p.pick((f"The tempo is probably around {v} BPM, though the beat tracking isn't certain.",
                           f"It seems to be about {v} BPM, but that measurement is uncertain.",
                           f"Likely around {v} BPM; the beat was hard to pin down."))
        else:
            text = p.pick((f"The tempo is about {v} BPM.", f"It moves at roughly {v} beats per minute.",
                           f"I measure the tempo at around {v} BPM.", f"It's played at about {v} BPM."))
        used = ["tempo_qpm"]
        note = self._compound_note()
        if note:
            used.append("beat_bpm")
        return text + note, used

    def a_feel(self) -> Result:
        f, p = self.f, self.p
        fb = felt_bpm(f)
        if fb is None:
            return p.cant_tell("pace", "the tempo wasn't measured reliably"), ["tempo_qpm", "beat_bpm"]
        bpm, conf = fb
        feel = tempo_feel(bpm)
        v = round(bpm)
        src = "beat_bpm" if usable(f.beat_bpm) else "tempo_qpm"
        note = self._felt_note(bpm)
        if hedged(conf):
            text = p.pick((f"It probably feels {feel}: the beat seems to be around {v} per minute.",
                           f"It seems {feel}, with a pulse of roughly {v} BPM (an uncertain measurement)."))
        else:
            text = p.pick((f"It feels {feel}, with a pulse of about {v} beats per minute.",
                           f"The pace is {feel}: about {v} BPM.",
                           f"{capitalize_first(article(feel))} {feel} pace — the beat runs at about {v} BPM."))
        return text + note, [src] + (["tempo_qpm"] if note else [])

    def _felt_note(self, bpm: float) -> str:
        f = self.f
        if usable(f.tempo_qpm) and abs(float(f.tempo_qpm.value) - bpm) >= 2:
            return (f" That is the felt beat; counted in quarter notes the tempo is about "
                    f"{round(float(f.tempo_qpm.value))} BPM.")
        return ""

    def a_check_tempo(self) -> Result:
        f, p = self.f, self.p
        if not usable(f.tempo_qpm):
            return p.cant_tell("tempo"), ["tempo_qpm"]
        v = float(f.tempo_qpm.value)
        ref = float(self.intent.slots.get("bpm", 0))
        op = self.intent.slots.get("op", "~")
        close = abs(v - ref) <= max(3.0, 0.04 * ref)
        yes = v > ref if op == ">" else v < ref if op == "<" else close
        rel = "faster than" if v > ref else "slower than" if v < ref else "right at"
        if op == "~":
            rel = "close to" if close else rel
        body = f"it's about {round(v)} BPM, {rel} {round(ref)}."
        return self._yes_no(yes, f.tempo_qpm.confidence, body), ["tempo_qpm"]

    def a_check_feel(self) -> Result:
        f, p = self.f, self.p
        fb = felt_bpm(f)
        if fb is None:
            return p.cant_tell("pace", "the tempo wasn't measured reliably"), ["tempo_qpm", "beat_bpm"]
        bpm, conf = fb
        feel = tempo_feel(bpm)
        asked = self.intent.slots.get("feel", "fast")
        body = f"the pace is {feel}, about {round(bpm)} beats per minute." + self._felt_note(bpm)
        return self._yes_no(feel == asked, conf, body), ["beat_bpm" if usable(f.beat_bpm) else "tempo_qpm"]

    # key, mode, meter ----------------------------------------------------------------------------
    def a_key(self) -> Result:
        f, p = self.f, self.p
        name = key_name(f.key.value) if usable(f.key) else None
        if name is None:
            return p.cant_tell("key"), ["key"]
        if hedged(f.key.confidence):
            text = p.pick((f"It's probably in {name}, though the key estimate is not certain.",
                           f"It seems to be in {name} (an uncertain estimate).",
                           f"Most likely {name}, but I'm not fully sure."))
        else:
            text = p.pick((f"It's in {name}.", f"The key is {name}.", f"The music is in {name}.",
                           f"I hear it in {name}."))
        return text, ["key"]

    def a_mode(self) -> Result:
        f, p = self.f, self.p
        k = parse_key(f.key.value) if usable(f.key) else None
        if k is None:
            return p.cant_tell("mode", "the key wasn't measured reliably"), ["key"]
        mode = k[1]
        if hedged(f.key.confidence):
            text = p.pick((f"Probably {mode}: the key seems to be {k[0]} {mode}.",
                           f"It seems {mode} ({k[0]} {mode}), though the key estimate is uncertain."))
        else:
            text = p.pick((f"It's {mode}: the key is {k[0]} {mode}.", f"{capitalize_first(mode)} — {k[0]} {mode}.",
                           f"The piece is in a {mode} key ({k[0]} {mode})."))
        return text, ["key"]

    def a_check_key(self) -> Result:
        f, p = self.f, self.p
        k = parse_key(f.key.value) if usable(f.key) else None
        if k is None:
            return p.cant_tell("key"), ["key"]
        asked = str(self.intent.slots.get("key", ""))
        a_tonic, _, a_mode = asked.partition(" ")
        try:
            same_tonic = pitch_class_of(a_tonic) == pitch_class_of(k[0])
        except ValueError:
            same_tonic = False
        yes = same_tonic and (not a_mode or a_mode == k[1])
        body = f"it's in {k[0]} {k[1]}." if yes else f"it's in {k[0]} {k[1]}, not {asked}."
        return self._yes_no(yes, f.key.confidence, body), ["key"]

    def a_check_mode(self) -> Result:
        f, p = self.f, self.p
        k = parse_key(f.key.value) if usable(f.key) else None
        if k is None:
            return p.cant_tell("mode", "the key wasn't measured reliably"), ["key"]
        asked = self.intent.slots.get("mode", "major")
        body = f"the key is {k[0]} {k[1]}."
        return self._yes_no(asked == k[1], f.key.confidence, body), ["key"]

    _METER_WORDS = {(4, 4): "four beats to the bar", (3, 4): "three beats to the bar",
                    (2, 4): "two beats to the bar", (2, 2): "cut time, two half-note beats to the bar",
                    (6, 8): "compound duple, two dotted-quarter beats to the bar",
                    (9, 8): "compound triple, three dotted-quarter beats to the bar",
                    (12, 8): "compound quadruple, four dotted-quarter beats to the bar"}

    def a_meter(self) -> Result:
        f, p = self.f, self.p
        m = parse_meter(f.meter.value) if usable(f.meter) else None
        if m is None:
            return p.cant_tell("time signature"), ["meter"]
        sig = f"{m[0]}/{m[1]}"
        desc = self._METER_WORDS.get(m)
        extra = f" ({desc})" if desc else ""
        if hedged(f.meter.confidence):
            text = p.pick((f"It's probably in {sig}{extra}, though the meter estimate is uncertain.",
                           f"The time signature seems to be {sig}{extra}; I'm not fully sure."))
        else:
            text = p.pick((f"It's in {sig}{extra}.", f"The time signature is {sig}{extra}.",
                           f"The music is counted in {sig}{extra}."))
        return text, ["meter"]

    def a_check_meter(self) -> Result:
        f, p = self.f, self.p
        m = parse_meter(f.meter.value) if usable(f.meter) else None
        if m is None:
            return p.cant_tell("time signature"), ["meter"]
        asked = str(self.intent.slots.get("meter", ""))
        if asked == "triple":
            yes = m[0] in (3, 9)
        elif asked == "duple":
            yes = m[0] in (2, 4, 6, 12)
        elif asked == "compound":
            yes = m[1] == 8 and m[0] in (6, 9, 12)
        else:
            yes = parse_meter(asked) == m
        return self._yes_no(yes, f.meter.confidence, f"it's in {m[0]}/{m[1]}."), ["meter"]

    # tags ---------------------------------------------------------------------------------------
    def _tag_answer(self, tags: list[Tag], what: str, field_name: str) -> Result:
        p = self.p
        good = usable_tags(tags)
        if not good:
            return p.cant_tell(what, f"no {_SINGULAR[what]} tag reached a usable confidence"), [field_name]
        sure = [t.name for t in good if not hedged(t.confidence)]
        maybe = [t.name for t in good if hedged(t.confidence)]
        if what == "instruments":
            if sure:
                text = p.pick((f"I can hear {join_list(sure)}.", f"The instruments detected are {join_list(sure)}.",
                               f"It features {join_list(sure)}."))
                if maybe:
                    text += p.pick((f" Possibly also {join_list(maybe, 'or')}.",
                                    f" There may also be {join_list(maybe)}, but that's less certain."))
            else:
                text = p.pick((f"Possibly {join_list(maybe)}, but the instrument tags are not confident.",
                               f"It seems to feature {join_list(maybe)}, though I'm not sure."))
        elif what == "genre":
            if sure:
                text = p.pick((f"It sounds like {join_list(sure)}.", f"The genre is {join_list(sure)}.",
                               f"Stylistically it's {join_list(sure)}."))
                if maybe:
                    text += f" It may also be heard as {join_list(maybe)}."
            else:
                text = p.pick((f"It's probably {join_list(maybe, 'or')}, though the genre tags are uncertain.",
                               f"Possibly {join_list(maybe, 'or')}, but the tagger isn't confident."))
        else:
            if sure:
                text = p.pick((f"The mood is {join_list(sure)}.", f"It comes across as {join_list(sure)}.",
                               f"The music sounds {join_list(sure)}."))
                if maybe:
                    text += f" Perhaps also {join_list(maybe)}, which is less certain."
            else:
                text = p.pick((f"It seems {join_list(maybe)}, but the mood tags are uncertain.",
                               f"Possibly {join_list(maybe)}; the tagger isn't confident about the mood."))
        return text, [field_name]

    def a_instruments(self) -> Result:
        return self._tag_answer(self.f.instruments, "instruments", "instruments")

    def a_genre(self) -> Result:
        return self._tag_answer(self.f.genres, "genre", "genres")

    def a_mood(self) -> Result:
        return self._tag_answer(self.f.moods, "mood", "moods")

    def _tag_check(self, tags: list[Tag], asked: str, what: str, field_name: str,
                   match: Callable[[str, str], bool]) -> Result:
        p = self.p
        good = usable_tags(tags)
        if not good:
            return p.cant_tell(what, f"no {_SINGULAR[what]} tag reached a usable confidence"), [field_name]
        hit = next((t for t in good if match(asked, t.name)), None)
        if hit is not None:
            body = p.pick((f"the tagger detected {hit.name}.", f"{hit.name} is among the detected {what}."))
            return self._yes_no(True, hit.confidence, body), [field_name]
        names = join_list([t.name if not hedged(t.confidence) else f"possibly {t.name}" for t in good])
        shown = _DISPLAY.get(asked, asked)
        body = p.pick((f"I didn't detect {shown}; the {_PLURAL[what]} detected are {names}.",
                       f"{shown} wasn't detected — the {_PLURAL[what]} found are {names}."))
        return "No, " + body, [field_name]

    def a_check_instrument(self) -> Result:
        asked = str(self.intent.slots.get("instrument", ""))
        return self._tag_check(self.f.instruments, asked, "instruments", "instruments", instrument_matches)

    def a_check_genre(self) -> Result:
        return self._tag_check(self.f.genres, str(self.intent.slots.get("genre", "")), "genre", "genres",
                               word_matches)

    def a_check_mood(self) -> Result:
        return self._tag_check(self.f.moods, str(self.intent.slots.get("mood", "")), "mood", "moods",
                               word_matches)

    # harmony -----------------------------------------------------------------------------------
    def a_chords(self) -> Result:
        f, p = self.f, self.p
        good = usable_chords(f)
        if not good:
            return p.cant_tell("chords", "no chord was estimated with enough confidence"), ["chords"]
        totals: dict[str, float] = {}
        for c in good:
            totals[readable_chord(c.label)] = totals.get(readable_chord(c.label), 0.0) + c.end_s - c.start_s
        main = [n for n, _ in sorted(totals.items(), key=lambda kv: -kv[1])][:6]
        seq = _merge_labels(good)
        opening = " – ".join(seq[:8]) + (" and so on" if len(seq) > 8 else "")
        conf = sum(c.confidence * (c.end_s - c.start_s) for c in good) / max(
            sum(c.end_s - c.start_s for c in good), 1e-9)
        if len(main) == 1:
            text = (f"It stays on one chord, {main[0]}." if len(good) == len(
                [c for c in f.chords if c.label not in NO_CHORD]) else
                f"the only chord estimated with enough confidence is {main[0]}.")
        else:
            text = p.pick((f"The main chords are {join_list(main)}. The progression runs {opening}.",
                           f"It mostly uses {join_list(main)}; in order: {opening}.",
                           f"The harmony moves {opening}, built on {join_list(main)}."))
        if hedged(conf):
            text = p.pick(("These chords are probably right, but the estimate is uncertain: ",
                           "Tentatively (the chord estimate is not confident): ")) + _lower_first(text)
        return text, ["chords"]

    def _window(self) -> tuple[float, float | None, str] | str:
        t0, t1, said = resolve_time(self.intent.slots, self.f)
        beyond = _beyond(self.f, t0, self.p)
        return beyond if beyond else (t0, t1, said)

    def a_chord_at(self) -> Result:
        f, p = self.f, self.p
        w = self._window()
        if isinstance(w, str):
            return w, ["duration_s"]
        if not f.chords:
            return p.cant_tell("chords", "no chords were estimated"), ["chords"]
        t0, t1, said = w
        if t1 is not None:
            spans = [c for c in _spans_in(f.chords, t0, t1) if c.label not in NO_CHORD]
            good = [c for c in spans if c.confidence >= USABLE]
            if not good:
                return p.cant_tell(f"chords {said}", "the chord estimate there is too uncertain"), ["chords"]
            names = " – ".join(_merge_labels(good))
            hedge = " (some are uncertain)" if any(hedged(c.confidence) for c in good) else ""
            return capitalize_first(f"{said} the chords are {names}{hedge}."), ["chords"]
        real = [c for c in f.chords if c.label not in NO_CHORD]
        if self.intent.slots.get("anchor") == "end" and real:
            span: Span | None = real[-1]
            said = "the last chord"
        elif t0 <= 0.0 and real:
            span = real[0]
            said = "the first chord"
        else:
            span = f.chord_at(t0)
        if span is None or span.label in NO_CHORD:
            return p.pick((f"No chord was detected {said}.", f"The chord estimate finds no chord {said}.")), ["chords"]
        if span.confidence < USABLE:
            what = said.removeprefix("the ") if said.startswith("the ") else f"chord {said}"
            return p.cant_tell(what, "the chord estimate there is too uncertain"), ["chords"]
        name = readable_chord(span.label)
        rng = format_span(span.start_s, span.end_s)
        if said.startswith("the "):  # first / last chord
            text = p.pick((f"{capitalize_first(said)} is {name} ({rng}).",
                           f"{capitalize_first(said)} is {name}, lasting {rng}."))
            if hedged(span.confidence):
                text = f"{capitalize_first(said)} is probably {name} ({rng}), but that estimate is uncertain."
            return text, ["chords"]
        if hedged(span.confidence):
            text = p.pick((f"{capitalize_first(said)} it's probably {name} (around {rng}), but that's uncertain.",
                           f"Probably {name} {said} — the estimate is not confident."))
        else:
            text = p.pick((f"{capitalize_first(said)} the chord is {name} ({rng}).",
                           f"It's {name} {said}; that chord lasts {rng}.",
                           f"{capitalize_first(said)} you hear {name} ({rng})."))
        return text, ["chords"]

    # structure ----------------------------------------------------------------------------------
    def a_structure(self) -> Result:
        f, p = self.f, self.p
        good = usable_sections(f)
        if not good:
            return p.cant_tell("structure", "no section boundary was estimated with enough confidence"), ["sections"]
        if len(good) == 1:
            s = good[0]
            if len(f.sections) == 1:
                text = p.pick((f"It's one continuous section ({s.label}), {format_time(s.start_s)}–"
                               f"{format_time(s.end_s)}; no clear change of section was found.",
                               f"No section changes were found: it plays as a single section {s.label}."))
            else:
                text = (f"Only section {s.label} ({format_time(s.start_s)}–{format_time(s.end_s)}) was estimated "
                        f"with usable confidence{' and even that is uncertain' if hedged(s.confidence) else ''}; "
                        f"the rest of the form is too unclear to state.")
            return text, ["sections"]
        form = "-".join(s.label for s in good)
        listing = join_list([f"{s.label} ({format_time(s.start_s)}–{format_time(s.end_s)})" for s in good])
        text = p.pick((f"It has {len(good)} sections forming {article(form)} {form} pattern: {listing}.",
                       f"The form is {form}, in {len(good)} sections: {listing}.",
                       f"I find {len(good)} sections, {form}: {listing}."))
        if any(hedged(s.confidence) for s in good):
            text += " Some of these boundaries are uncertain."
        named = re.search(r"\b(verse|chorus|bridge|intro|outro|refrain|hook)\b", p.seed)
        if named:
            text += (f" Sections are lettered by similarity rather than named, so which one is the "
                     f"{named.group(1)} is not known.")
        if len(good) < len(f.sections):
            text += " A few more possible boundaries were too uncertain to state."
        return text, ["sections"]

    def a_section_at(self) -> Result:
        f, p = self.f, self.p
        w = self._window()
        if isinstance(w, str):
            return w, ["duration_s"]
        if not f.sections:
            return p.cant_tell("sections", "no sections were estimated"), ["sections"]
        t0, t1, said = w
        if t1 is not None:
            good = [s for s in _spans_in(f.sections, t0, t1) if s.confidence >= USABLE]
            if not good:
                return p.cant_tell(f"section {said}", "the section estimate there is too uncertain"), ["sections"]
            return capitalize_first(f"{said} the music is in section {join_list([s.label for s in good])}."), ["sections"]
        if self.intent.slots.get("anchor") == "end":
            span: Span | None = f.sections[-1]
        else:
            span = f.section_at(t0)
        if span is None:
            return p.cant_tell(f"section {said}", "no section covers that time"), ["sections"]
        if span.confidence < USABLE:
            return p.cant_tell(f"section {said}", "the section estimate there is too uncertain"), ["sections"]
        rng = f"{format_time(span.start_s)}–{format_time(span.end_s)}"
        if hedged(span.confidence):
            text = f"{capitalize_first(said)} it's probably section {span.label} ({rng}), though that is uncertain."
        else:
            text = p.pick((f"{capitalize_first(said)} we're in section {span.label}, which runs {rng}.",
                           f"That's section {span.label} ({rng})."))
        return text, ["sections"]

    # duration, bars ------------------------------------------------------------------------------
    def a_duration(self) -> Result:
        d = self.f.duration_s
        secs = round(d)
        text = self.p.pick((f"It lasts {format_time(d)} ({secs} seconds).", f"The recording is {format_time(d)} long.",
                            f"About {secs} seconds ({format_time(d)}).", f"The running time is {format_time(d)}."))
        return text, ["duration_s"]

    def a_bars(self) -> Result:
        f, p = self.f, self.p
        meter = parse_meter(f.meter.value) if usable(f.meter) else None
        parts: list[str] = []
        used: list[str] = []
        if meter and f.downbeats_s:
            n = len(f.downbeats_s)
            hedge = "probably " if hedged(f.meter.confidence) else ""
            parts.append(f"There are {hedge}about {n} bars of {meter[0]}/{meter[1]}")
            used += ["downbeats_s", "meter"]
        if usable(f.tempo_qpm) and f.beats_s:
            nb = len(f.beats_s)
            parts.append(f"{'with' if parts else 'There are'} about {nb} beats in all")
            used.append("beats_s")
        if not parts:
            return p.cant_tell("number of bars", "the beats and meter weren't measured reliably"), ["downbeats_s"]
        text = " ".join(parts) + "."
        if not meter:
            text += " I can't count the bars reliably: the meter is too uncertain."
        return text, used

    # loudness -----------------------------------------------------------------------------------
    def a_loudness(self) -> Result:
        f, p = self.f, self.p
        if not dynamics_usable(f):
            return p.cant_tell("loudness", "no loudness curve was measured"), ["dynamics"]
        d = f.dynamics
        assert d is not None
        u = db_unit(f)
        trend = {"crescendo": "it gets louder over time (a crescendo)",
                 "decrescendo": "it gets softer over time (a decrescendo)",
                 "steady": "the level stays fairly steady",
                 "varied": "the level rises and falls without an overall trend"}.get(d.trend, f"the trend is {d.trend}")
        lvl = "of moderate loudness" if d.level == "moderate" else d.level
        text = p.pick((f"Overall the recording is {lvl} (about {round(d.mean_db)} {u} on average), and {trend}.",
                       f"It's {lvl} overall, averaging about {round(d.mean_db)} {u}; {trend}.",
                       f"The recording is {lvl} — around {round(d.mean_db)} {u} — and {trend}."))
        text += f" The loudness varies over roughly {round(d.range_db)} dB."
        if d.peaks_s:
            text += f" It swells around {join_list([format_time(t) for t in d.peaks_s[:4]])}."
        if hedged(d.confidence):
            text += " Only part of the recording passed the measuring gate, so treat this as approximate."
        return text, ["dynamics"]

    def _level_at(self, t0: float, t1: float | None) -> float | None:
        d = self.f.dynamics
        if d is None or not d.curve_db or d.hop_s <= 0:
            return None
        n = len(d.curve_db)
        if t1 is None:
            i = min(n - 1, max(0, int(round(t0 / d.hop_s))))
            return float(d.curve_db[i])
        i0 = min(n - 1, max(0, int(t0 / d.hop_s)))
        i1 = min(n, max(i0 + 1, int(round(t1 / d.hop_s)) + 1))
        vals = sorted(d.curve_db[i0:i1])
        return float(vals[len(vals) // 2])

    def _level_phrase(self, level: float) -> str:
        d = self.f.dynamics
        assert d is not None
        u = db_unit(self.f)
        diff = level - d.mean_db
        rel = ("well above" if diff >= 6 else "above" if diff >= 2 else "well below" if diff <= -6
               else "below" if diff <= -2 else "close to")
        return f"about {round(level)} {u}, {rel} the average of {round(d.mean_db)} {u}"

    def a_loudness_at(self) -> Result:
        f, p = self.f, self.p
        w = self._window()
        if isinstance(w, str):
            return w, ["duration_s"]
        if not dynamics_usable(f) or not f.dynamics or not f.dynamics.curve_db:
            return p.cant_tell("loudness", "no loudness curve was measured"), ["dynamics"]
        t0, t1, said = w
        if self.intent.slots.get("anchor") == "end" and t1 is None:
            t0, t1 = max(0.0, f.duration_s - 3.0), f.duration_s
        level = self._level_at(t0, t1)
        assert level is not None
        text = p.pick((f"{capitalize_first(said)} the level is {self._level_phrase(level)}.",
                       f"The loudness {said} is {self._level_phrase(level)}."))
        return text, ["dynamics"]

    def a_check_dynamics(self) -> Result:
        f, p = self.f, self.p
        if not dynamics_usable(f):
            return p.cant_tell("loudness", "no loudness curve was measured"), ["dynamics"]
        d = f.dynamics
        assert d is not None
        asked = self.intent.slots.get("dynamics", "loud")
        if asked in ("crescendo", "decrescendo", "steady"):
            yes = d.trend == asked
            word = {"crescendo": "gets louder over time", "decrescendo": "gets softer over time",
                    "steady": "stays at a steady level", "varied": "rises and falls"}.get(d.trend, d.trend)
            body = f"overall it {word}."
            if d.peaks_s and d.trend != "crescendo" and asked == "crescendo":
                body += f" It does swell around {join_list([format_time(t) for t in d.peaks_s[:3]])}."
        else:
            yes = (d.level in ("loud", "very loud")) if asked == "loud" else (d.level in ("soft", "very soft"))
            lvl = "of moderate loudness" if d.level == "moderate" else d.level
            body = f"the recording is {lvl} overall (about {round(d.mean_db)} {db_unit(f)})."
        return self._yes_no(yes, d.confidence, body), ["dynamics"]

    # a moment -----------------------------------------------------------------------------------
    def a_at_time(self) -> Result:
        f, p = self.f, self.p
        w = self._window()
        if isinstance(w, str):
            return w, ["duration_s"]
        t0, t1, said = w
        bits: list[str] = []
        used: list[str] = []
        end = t1 if t1 is not None else t0
        if self.intent.slots.get("anchor") == "end" and t1 is None:
            t0 = max(0.0, f.duration_s - 3.0)
            end = f.duration_s
        secs = [s for s in _spans_in(f.sections, t0, end + 1e-6) if s.confidence >= USABLE] if f.sections else []
        if secs:
            hedge = " (uncertain)" if any(hedged(s.confidence) for s in secs) else ""
            bits.append(f"the music is in section {join_list([s.label for s in secs])}{hedge}")
            used.append("sections")
        chords = [c for c in _spans_in(f.chords, t0, end + 1e-6) if c.label not in NO_CHORD
                  and c.confidence >= USABLE]
        if chords:
            names = _merge_labels(chords)
            hedge = "probably " if any(hedged(c.confidence) for c in chords) else ""
            bits.append(f"the harmony is {hedge}{' – '.join(names)}" if len(names) > 1
                        else f"the chord is {hedge}{names[0]}")
            used.append("chords")
        if dynamics_usable(f) and f.dynamics and f.dynamics.curve_db:
            level = self._level_at(t0, t1 if t1 is not None else (end if end > t0 else None))
            if level is not None:
                bits.append(f"the level is {self._level_phrase(level)}")
                used.append("dynamics")
            near = [pk for pk in f.dynamics.peaks_s if t0 - 2.0 <= pk <= end + 2.0]
            if near:
                bits.append(f"there is a swell in loudness around {format_time(near[0])}")
        for b in usable_sections(f):
            if t0 - 1.0 <= b.start_s <= end + 1.0 and b.start_s > 0.5:
                bits.append(f"a new section ({b.label}) begins at {format_time(b.start_s)}")
                break
        if not bits:
            return p.cant_tell(f"what happens {said}", "nothing was measured there with enough confidence"), [
                "chords", "sections", "dynamics"]
        text = capitalize_first(f"{said}, {join_list(bits)}.")
        return text, used

    # notes --------------------------------------------------------------------------------------
    def _notes_ok(self) -> bool:
        n = self.f.notes
        return n is not None and n.n_notes > 0 and n.lowest_pitch is not None and n.highest_pitch is not None

    def a_range(self) -> Result:
        f, p = self.f, self.p
        if not self._notes_ok():
            return p.cant_tell("pitch range", "no notes were transcribed"), ["notes"]
        n = f.notes
        assert n is not None and n.lowest_pitch is not None and n.highest_pitch is not None
        lo, hi = pitch_name(n.lowest_pitch), pitch_name(n.highest_pitch)
        octaves = n.range_semitones // 12
        span = (f"over {_WORDS.get(octaves, str(octaves))} octave{'s' if octaves > 1 else ''}" if octaves >= 1
                else "less than an octave")
        register = ("mostly in a low register" if n.highest_pitch < 60 else
                    "in a high register" if n.lowest_pitch >= 60 else "from low to high")
        text = p.pick((f"The notes run from {lo} up to {hi}, a span of {n.range_semitones} semitones ({span}), {register}.",
                       f"The lowest note is {lo} and the highest {hi}: {n.range_semitones} semitones, {span}.",
                       f"Its range is {lo}–{hi} ({n.range_semitones} semitones), {register}."))
        return text, ["notes"]

    def a_density(self) -> Result:
        f, p = self.f, self.p
        if not self._notes_ok():
            return p.cant_tell("note density", "no notes were transcribed"), ["notes"]
        n = f.notes
        assert n is not None
        d = n.density_per_s
        word = "sparse" if d < 2 else "moderately busy" if d < 6 else "busy" if d < 12 else "very busy"
        text = p.pick((f"It's {word}: {n.n_notes} notes, about {d:.1f} per second.",
                       f"About {d:.1f} notes per second ({n.n_notes} in all), which is {word}.",
                       f"The transcription has {n.n_notes} notes — roughly {d:.1f} a second, so {word}."))
        return text, ["notes"]

    def a_texture(self) -> Result:
        f, p = self.f, self.p
        if not self._notes_ok():
            return p.cant_tell("texture", "no notes were transcribed"), ["notes"]
        n = f.notes
        assert n is not None
        if n.max_polyphony <= 1:
            text = p.pick(("It's monophonic: one note at a time.", "A single line — never more than one note at once."))
        else:
            kind = ("mostly a single line with some overlapping notes" if n.mean_polyphony < 1.5 else
                    "a few notes at a time" if n.mean_polyphony < 3 else "thick and chordal")
            text = p.pick((f"The texture is {kind}: about {n.mean_polyphony:.1f} notes sound together on average, "
                           f"up to {n.max_polyphony} at once.",
                           f"On average {n.mean_polyphony:.1f} notes sound at once (at most {n.max_polyphony}), "
                           f"so the texture is {kind}."))
        return text, ["notes"]

    def a_parts(self) -> Result:
        f, p = self.f, self.p
        n = f.notes
        if n is None or n.n_parts <= 0:
            return p.cant_tell("number of parts", "no parts were transcribed"), ["notes"]
        names = [x for x in n.part_names if x]
        listed = f": {join_list(names)}" if names and len(names) == n.n_parts else ""
        text = p.pick((f"The transcription has {n.n_parts} part{'s' if n.n_parts != 1 else ''}{listed}.",
                       f"I separate it into {n.n_parts} part{'s' if n.n_parts != 1 else ''}{listed}."))
        return text, ["notes"]

    def a_melody(self) -> Result:
        f, p = self.f, self.p
        if not self._notes_ok() or not f.notes or not f.notes.contour:
            return p.cant_tell("melodic contour", "no notes were transcribed"), ["notes"]
        c = f.notes.contour
        shape = {"rising": "rises over the piece", "falling": "falls over the piece",
                 "arch": "rises and then falls again (an arch)", "valley": "dips and then climbs back (a valley)",
                 "level": "stays around the same height, without a clear rise or fall"}.get(c, c)
        text = p.pick((f"The top line {shape}.", f"Melodically, the highest line {shape}."))
        return text, ["notes"]

    # summary, unknown ---------------------------------------------------------------------------
    def a_summary(self) -> Result:
        text, _, used = caption(self.f)
        return text, used

    def a_unknown(self) -> Result:
        p = self.p
        q = self.p.seed.lower()
        if re.search(r"\bwho\b|name|artist|band|composer|wrote|produced|singer", q):
            first = "I can't tell who made or performs this: the analysis doesn't identify people or titles."
        elif re.search(r"lyric|words|\bsung\b|singing|saying", q):
            first = "Lyrics aren't transcribed, so I can't tell what is sung."
        elif re.search(r"year|decade|when|released|recorded", q):
            first = "I can't tell when or where this was recorded or released."
        else:
            first = p.pick(("I can't tell that from the recording.", "I can't tell that from the audio alone.",
                            "I cannot tell that from what was measured."))
        rest = p.pick((" I can talk about what was measured: tempo, meter, key, chords, sections, loudness, the notes,"
                       " and the instrument, genre and mood tags.",
                       " What I can answer is about the measured music itself — tempo, key, meter, harmony, form,"
                       " dynamics, notes and the tagger's instrument, genre and mood tags."))
        return first + rest, []

    # yes/no helper ------------------------------------------------------------------------------
    def _yes_no(self, yes: bool, conf: float, body: str) -> str:
        if hedged(conf):
            lead = "Probably" if yes else "Probably not"
            return f"{lead} — {body[:1].lower() + body[1:]} (That estimate is uncertain.)"
        lead = self.p.pick(("Yes", "Yes,")) if yes else self.p.pick(("No", "No,"))
        sep = " — " if not lead.endswith(",") else " "
        return f"{lead}{sep}{body}"


_DISPLAY = {"voice": "vocals", "drums": "drums", "strings": "strings", "brass": "brass"}
_SINGULAR = {"instruments": "instrument", "genre": "genre", "mood": "mood"}
_PLURAL = {"instruments": "instruments", "genre": "genres", "mood": "moods"}
_GLOBAL_INTENTS = ("tempo", "feel", "key", "mode", "meter", "instruments", "genre", "mood", "duration", "range",
                   "density", "texture", "parts", "bars", "melody")
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def _lower_first(text: str) -> str:
    """Lower-case the first letter to continue a sentence, except the pronoun "I"."""
    if re.match(r"I\b", text):
        return text
    return text[:1].lower() + text[1:]


def word_matches(asked: str, name: str) -> bool:
    """Does a genre / mood tag ``name`` answer a question about ``asked``? Same word, or one contains
    the other as a word ("electronic" / "electronic dance"), or the same 5-letter stem ("relaxing" /
    "relaxed")."""
    a, n = asked.lower().strip(), name.lower().strip()
    if not a or not n:
        return False
    if a == n or re.search(rf"\b{re.escape(a)}\b", n) or re.search(rf"\b{re.escape(n)}\b", a):
        return True
    return len(a) >= 5 and len(n) >= 5 and a[:5] == n[:5]


def answer_intent(facts: MusicFacts, intent: Intent, question: str) -> Result:
    """``(text, grounded_on)`` for ``intent`` (recognised from ``question``) on ``facts``."""
    return Answerer(facts, intent, question.strip().lower()).answer()


# -- the caption ------------------------------------------------------------------------------------
def _seed_of(facts: MusicFacts) -> str:
    import hashlib

    return hashlib.sha256(facts.to_json(indent=None).encode()).hexdigest()


def caption(facts: MusicFacts) -> tuple[str, list[str], list[str]]:
    """A MusicCaps-style paragraph, its tags, and the fact fields used: ``(text, tags, grounded_on)``.

    Only facts at usable confidence appear; hedged ones get "possibly" / "seems". No claim about use
    ("could be played in a movie"), audience or recording quality is made: none is measured."""
    p = Phraser(_seed_of(facts))
    sentences: list[str] = []
    tags: list[str] = []
    used: list[str] = []

    genres = usable_tags(facts.genres)[:2]
    insts = usable_tags(facts.instruments)[:5]
    moods = usable_tags(facts.moods)[:3]
    g_sure = [t.name for t in genres if not hedged(t.confidence)]
    g_maybe = [t.name for t in genres if hedged(t.confidence)]
    i_sure = [t.name for t in insts if not hedged(t.confidence)]
    i_maybe = [t.name for t in insts if hedged(t.confidence)]
    genre_phrase = join_list(g_sure) if g_sure else (join_list(g_maybe, "or") if g_maybe else "")
    inst_phrase = join_list(i_sure) + (f", possibly with {join_list(i_maybe)}" if i_sure and i_maybe else "")
    if not i_sure and i_maybe:
        inst_phrase = f"what seems to be {join_list(i_maybe)}"
    only_duration = False
    if genres:
        used.append("genres")
        tags += [t.name for t in genres]
    if insts:
        used.append("instruments")
        tags += [t.name for t in insts]
    if genre_phrase and inst_phrase:
        a_g = f"{article(genre_phrase)} {genre_phrase}"
        verb = "play" if len(insts) > 1 else "plays"
        if g_sure:
            options = [f"This is {a_g} piece featuring {inst_phrase}.",
                       f"This {genre_phrase} recording features {inst_phrase}."]
            if not i_maybe:
                options.append(f"{capitalize_first(inst_phrase)} {verb} in this {genre_phrase} piece.")
            sentences.append(p.pick(options))
        else:
            sentences.append(p.pick((f"This sounds like {a_g} piece, featuring {inst_phrase}.",
                                     f"This seems to be {a_g} recording featuring {inst_phrase}.")))
    elif genre_phrase:
        sentences.append(f"This is {article(genre_phrase)} {genre_phrase} recording." if g_sure
                         else f"This seems to be {article(genre_phrase)} {genre_phrase} recording.")
    elif inst_phrase:
        if i_sure:
            sentences.append(p.pick((f"This recording features {inst_phrase}.",
                                     f"The recording is played on {inst_phrase}.")))
        else:
            sentences.append(f"The recording seems to feature {join_list(i_maybe)}.")
    else:
        sentences.append(p.pick((f"This is a recording of about {format_time(facts.duration_s)}.",
                                 f"The instruments and style of this {format_time(facts.duration_s)} recording "
                                 f"could not be identified with confidence.")))
        used.append("duration_s")
        only_duration = True

    # tempo and meter
    fb = felt_bpm(facts)
    meter = parse_meter(facts.meter.value) if usable(facts.meter) else None
    meter_txt = f"{meter[0]}/{meter[1]}" if meter else ""
    if usable(facts.tempo_qpm) and fb is not None:
        v = round(float(facts.tempo_qpm.value))
        feel = tempo_feel(fb[0])
        used.append("tempo_qpm")
        tags.append(f"{feel} tempo")
        m_part = ""
        if meter:
            used.append("meter")
            m_part = (f" in {meter_txt} time" if not hedged(facts.meter.confidence)
                      else f", probably in {meter_txt} time")
        felt = ""
        if abs(fb[0] - float(facts.tempo_qpm.value)) >= 2:
            felt = f" (a felt beat of about {round(fb[0])} per minute)"
            used.append("beat_bpm")
        if hedged(facts.tempo_qpm.confidence):
            sentences.append(f"The tempo seems {feel}, probably around {v} BPM{felt}{m_part}.")
        else:
            sentences.append(p.pick((f"The tempo is {feel} at about {v} BPM{felt}{m_part}.",
                                     f"It moves at a {feel} pace, about {v} BPM{felt}{m_part}.",
                                     f"The pace is {feel}, around {v} BPM{felt}{m_part}.")))
    elif meter:
        used.append("meter")
        sentences.append(f"It is {'probably ' if hedged(facts.meter.confidence) else ''}in {meter_txt} time.")
    if meter:
        tags.append(meter_txt)

    # key and harmony
    kname = key_name(facts.key.value) if usable(facts.key) else None
    chords = usable_chords(facts)
    main: list[str] = []
    if chords:
        totals: dict[str, float] = {}
        for c in chords:
            totals[readable_chord(c.label)] = totals.get(readable_chord(c.label), 0.0) + c.end_s - c.start_s
        main = [n for n, _ in sorted(totals.items(), key=lambda kv: -kv[1])][:4]
        used.append("chords")
    harmony = ""
    if len(main) >= 2:
        harmony = p.pick((f"the harmony centres on {join_list(main)}", f"the chords are mainly {join_list(main)}"))
    if kname:
        used.append("key")
        tags.append(kname)
        k = f"probably in {kname}" if hedged(facts.key.confidence) else f"in {kname}"
        sentences.append(p.pick((f"The piece is {k}" + (f", and {harmony}." if harmony else "."),
                                 f"It is {k}" + (f"; {harmony}." if harmony else "."))))
    elif harmony:
        sentences.append(capitalize_first(harmony) + ".")

    # form and dynamics
    secs = usable_sections(facts)
    form = "-".join(s.label for s in secs) if len(secs) >= 2 else ""
    dyn = ""
    if dynamics_usable(facts) and facts.dynamics is not None:
        used.append("dynamics")
        d = facts.dynamics
        dyn = {"crescendo": "grows louder towards the end", "decrescendo": "gets softer towards the end",
               "steady": "keeps a steady dynamic level", "varied": "rises and falls in volume"}.get(d.trend, "")
        if d.trend == "crescendo":
            tags.append("crescendo")
    if form:
        used.append("sections")
        sentences.append(f"It follows {article(form)} {form} form" + (f" and {dyn}." if dyn else "."))
    elif dyn:
        sentences.append(f"The music {dyn}.")

    # mood
    if moods:
        used.append("moods")
        m_sure = [t.name for t in moods if not hedged(t.confidence)]
        m_maybe = [t.name for t in moods if hedged(t.confidence)]
        if m_sure:
            sentences.append(p.pick((f"The mood is {join_list(m_sure)}.", f"It sounds {join_list(m_sure)}.",
                                     f"The atmosphere is {join_list(m_sure)}.")))
        else:
            sentences.append(f"The mood seems {join_list(m_maybe)}.")
        tags += [t.name for t in moods]

    # melody / texture
    n = facts.notes
    if n is not None and n.n_notes > 0 and n.lowest_pitch is not None and n.highest_pitch is not None:
        used.append("notes")
        shape = {"rising": "rises", "falling": "falls", "arch": "rises and falls in an arch",
                 "valley": "dips and climbs back", "level": "stays fairly level"}.get(n.contour, "")
        texture = ("it is a single line" if n.max_polyphony <= 1 else
                   "it is mostly one line" if n.mean_polyphony < 1.5 else "several notes often sound together")
        lo, hi = pitch_name(n.lowest_pitch), pitch_name(n.highest_pitch)
        if shape:
            sentences.append(p.pick((f"The top line {shape}, the notes span {lo} to {hi}, and {texture}.",
                                     f"The notes range from {lo} to {hi}; the top line {shape} and {texture}.")))
    if only_duration and len(sentences) == 1:
        sentences.append("Nothing else was measured with enough confidence to describe.")
    seen: set[str] = set()
    tags = [t for t in tags if not (t.lower() in seen or seen.add(t.lower()))]
    return " ".join(s for s in sentences if s), tags, list(dict.fromkeys(used))
