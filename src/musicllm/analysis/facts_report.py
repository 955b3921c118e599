"""A Markdown report of :class:`~musicllm.analysis.facts.MusicFacts`, for people (the JSON is for programs).

Every value is shown with its confidence; values below ``USABLE`` are shown as "unknown".
"""

from __future__ import annotations

from musicllm.analysis.facts import USABLE, Measured, MusicFacts, Tag, format_time, pitch_name, readable_chord

MAX_CHORD_ROWS = 48


def _m(m: Measured, fmt: str = "{}") -> str:
    if not m.usable():
        return f"unknown (confidence {m.confidence:.2f})"
    return f"{fmt.format(m.value)} (confidence {m.confidence:.2f})"


def _tags(tags: list[Tag]) -> str:
    shown = [f"{t.name} {t.confidence:.2f}" for t in tags if t.confidence >= USABLE]
    return ", ".join(shown) if shown else "none above the threshold"


def facts_to_markdown(f: MusicFacts) -> str:
    """The report as Markdown text."""
    title = f.source or "recording"
    lines = [f"# Analysis of {title}", "", "| what | measured |", "|---|---|",
             f"| duration | {format_time(f.duration_s)} ({f.duration_s:.1f} s) |",
             f"| tempo | {_m(f.tempo_qpm, '{:.0f} quarter notes per minute')} |",
             f"| felt beat | {_m(f.beat_bpm, '{:.0f} beats per minute')} |",
             f"| meter | {_m(f.meter)} |",
             f"| key | {_m(f.key)} |",
             f"| beats / bars | {len(f.beats_s)} beats, {len(f.downbeats_s)} bar lines |",
             f"| instruments | {_tags(f.instruments)} |",
             f"| genre | {_tags(f.genres)} |",
             f"| mood | {_tags(f.moods)} |"]
    if f.dynamics is not None:
        d = f.dynamics
        lines.append(f"| loudness | {d.level}, {d.trend}; mean {d.mean_db:.1f} {d.reference}, range {d.range_db:.1f} dB |")
    if f.notes is not None:
        n = f.notes
        rng = (f"{pitch_name(n.lowest_pitch)}-{pitch_name(n.highest_pitch)} ({n.range_semitones} semitones)"
               if n.lowest_pitch is not None and n.highest_pitch is not None else "no notes")
        lines.append(f"| notes | {n.n_notes} notes, range {rng}, {n.density_per_s:.1f} notes/s, "
                     f"polyphony mean {n.mean_polyphony:.1f} / max {n.max_polyphony}, contour {n.contour}, "
                     f"{n.n_parts} part(s) |")
    if f.sections:
        lines += ["", "## Sections", "", "| start | end | label | confidence |", "|---|---|---|---|"]
        lines += [f"| {format_time(s.start_s)} | {format_time(s.end_s)} | {s.label} | {s.confidence:.2f} |"
                  for s in f.sections]
    if f.chords:
        lines += ["", "## Chords", "", "| start (s) | end (s) | chord | confidence |", "|---|---|---|---|"]
        lines += [f"| {c.start_s:.2f} | {c.end_s:.2f} | {readable_chord(c.label)} | {c.confidence:.2f} |"
                  for c in f.chords[:MAX_CHORD_ROWS]]
        if len(f.chords) > MAX_CHORD_ROWS:
            lines.append(f"| ... | | {len(f.chords) - MAX_CHORD_ROWS} more in the JSON | |")
    if f.analyzers:
        lines += ["", "## How it was measured", ""]
        lines += [f"- {k}: {v}" for k, v in f.analyzers.items()]
    return "\n".join(lines) + "\n"
