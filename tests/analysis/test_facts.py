"""MusicFacts: JSON round trip, views, the Markdown report, the note summary."""

from fractions import Fraction

from musicllm.analysis.facts import (
    Dynamics,
    Measured,
    MusicFacts,
    NoteSummary,
    Span,
    Tag,
    format_time,
    pitch_name,
    readable_chord,
)
from musicllm.analysis.facts_report import facts_to_markdown
from musicllm.analysis.note_summary import describe_contour, summarize_notes
from musicllm.score.model import Note, Part, Score


def _facts() -> MusicFacts:
    return MusicFacts(
        duration_s=30.0,
        tempo_qpm=Measured(120.0, 0.8), beat_bpm=Measured(120.0, 0.8),
        meter=Measured("3/4", 0.6), key=Measured("G major", 0.1),
        beats_s=[0.0, 0.5, 1.0], downbeats_s=[0.0],
        chords=[Span(0.0, 2.0, "G:maj", 0.9), Span(2.0, 4.0, "E:min", 0.7)],
        sections=[Span(0.0, 15.0, "A", 0.6), Span(15.0, 30.0, "B", 0.6)],
        dynamics=Dynamics(-20.0, 12.0, "moderate", "crescendo", 0.5, [-25.0, -15.0]),
        instruments=[Tag("violin", 0.7), Tag("piano", 0.1)],
        notes=NoteSummary(100, 55, 79, 3.3, 1.2, 3, "arch", 2, ["Part 1", "Part 2"]),
        source="x.wav",
    )


def test_json_round_trip_keeps_everything():
    f = _facts()
    d = f.to_dict()
    assert d["schema"] == "musicllm.facts/1"
    assert d["notes"]["range_semitones"] == 24
    assert MusicFacts.from_json(f.to_json()) == f


def test_views_and_helpers():
    f = _facts()
    assert f.chord_at(2.5).label == "E:min"
    assert f.chord_at(10.0) is None
    assert f.section_at(20.0).label == "B"
    assert readable_chord("A:min") == "Am" and readable_chord("C:maj") == "C" and readable_chord("N") == "no chord"
    assert pitch_name(60) == "C4" and pitch_name(69) == "A4"
    assert format_time(75.4) == "1:15" and format_time(3725) == "1:02:05"
    assert not f.key.usable() and f.tempo_qpm.usable()


def test_markdown_report_shows_values_and_hides_unusable():
    md = facts_to_markdown(_facts())
    assert "120 quarter notes per minute (confidence 0.80)" in md
    assert "| key | unknown (confidence 0.10) |" in md  # below USABLE: not stated
    assert "violin 0.70" in md and "piano" not in md
    assert "| 0.00 | 2.00 | G | 0.90 |" in md
    assert "G3-G5 (24 semitones)" in md


def _score(pitches_times):
    notes = [Note(pitch=p, onset_s=a, offset_s=b, velocity=80, onset_qn=Fraction(0), offset_qn=Fraction(1))
             for p, a, b in pitches_times]
    return Score(parts=[Part(name="Melody", program=40, notes=notes)], tempo_qpm=120.0, duration_s=10.0)


def test_note_summary_counts_range_polyphony():
    s = _score([(60, 0.0, 1.0), (64, 0.0, 1.0), (67, 0.5, 1.0), (72, 2.0, 3.0)])
    n = summarize_notes(s, 10.0)
    assert (n.n_notes, n.lowest_pitch, n.highest_pitch, n.range_semitones) == (4, 60, 72, 12)
    assert n.max_polyphony == 3
    assert n.density_per_s == 0.4
    # sounding 0-0.5 (2 notes), 0.5-1.0 (3), 2-3 (1): time-weighted mean = (2*.5 + 3*.5 + 1*1) / 2
    assert abs(n.mean_polyphony - 1.75) < 0.06


def test_contour_words():
    import numpy as np

    assert describe_contour(np.linspace(60, 72, 40)) == "rising"
    assert describe_contour(np.linspace(72, 60, 40)) == "falling"
    assert describe_contour(np.concatenate([np.linspace(60, 72, 20), np.linspace(72, 60, 20)])) == "arch"
    assert describe_contour(np.concatenate([np.linspace(72, 60, 20), np.linspace(60, 72, 20)])) == "valley"
    assert describe_contour(np.full(40, 65.0)) == "level"
