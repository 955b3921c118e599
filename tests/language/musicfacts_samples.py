"""Hand-made MusicFacts for the language tests: confident, uncertain (hedged / unusable values), empty."""

from __future__ import annotations

from musicllm.analysis.facts import Dynamics, Measured, MusicFacts, NoteSummary, Span, Tag


def _chords(labels: list[str], duration: float, length: float, conf: float) -> list[Span]:
    out, t, i = [], 0.0, 0
    while t < duration - 1e-6:
        end = min(duration, t + length)
        out.append(Span(round(t, 3), round(end, 3), labels[i % len(labels)], conf))
        t, i = end, i + 1
    return out


def confident() -> MusicFacts:
    """A 2:00 folk piece in G major, 3/4, 120 BPM; chords G C D Em every 2 s; sections A B A."""
    return MusicFacts(
        duration_s=120.0, tempo_qpm=Measured(120.4, 0.9), beat_bpm=Measured(120.4, 0.9),
        meter=Measured("3/4", 0.8), key=Measured("G major", 0.85),
        beats_s=[i * 0.5 for i in range(240)], downbeats_s=[i * 1.5 for i in range(80)],
        chords=_chords(["G:maj", "C:maj", "D:maj", "E:min"], 120.0, 2.0, 0.8),
        sections=[Span(0.0, 40.0, "A", 1.0), Span(40.0, 80.0, "B", 0.7), Span(80.0, 120.0, "A", 0.8)],
        dynamics=Dynamics(mean_db=-20.0, range_db=9.0, level="moderate", trend="crescendo", hop_s=1.0,
                          curve_db=[-26.0 + 0.1 * i for i in range(121)], peaks_s=[95.0], reference="LUFS"),
        instruments=[Tag("violin", 0.9), Tag("acoustic guitar", 0.6), Tag("accordion", 0.3), Tag("piano", 0.1)],
        genres=[Tag("folk", 0.8), Tag("jazz", 0.05)],
        moods=[Tag("happy", 0.7), Tag("sad", 0.1)],
        notes=NoteSummary(n_notes=480, lowest_pitch=43, highest_pitch=86, density_per_s=4.0, mean_polyphony=1.6,
                          max_polyphony=3, contour="rising", n_parts=2, part_names=["melody", "accompaniment"]),
        source="confident.wav")


def uncertain() -> MusicFacts:
    """Hedged tempo (0.3) and key (0.35), unusable meter (0.1), chords half unusable, hedged tags."""
    return MusicFacts(
        duration_s=60.0, tempo_qpm=Measured(88.0, 0.3), beat_bpm=Measured(88.0, 0.3),
        meter=Measured("4/4", 0.1), key=Measured("E minor", 0.35),
        chords=[Span(0.0, 30.0, "E:min", 0.1), Span(30.0, 60.0, "A:min", 0.4)],
        sections=[Span(0.0, 60.0, "A", 0.2)],
        instruments=[Tag("piano", 0.4)], genres=[Tag("classical", 0.2)], moods=[],
        source="uncertain.wav")


def empty() -> MusicFacts:
    """Nothing measured but the duration (30 s)."""
    return MusicFacts(duration_s=30.0, tempo_qpm=Measured(None, 0.0), beat_bpm=Measured(None, 0.0),
                      meter=Measured(None, 0.0), key=Measured(None, 0.0), source="empty.wav")
