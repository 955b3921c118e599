"""Symbolic scores: the `Score` model and its file formats (ABC, MIDI, MusicXML, JSON, SVG)."""

from musicllm.score.model import Key, Meter, Note, Part, Score, TimeMap

__all__ = ["Key", "Meter", "Note", "Part", "Score", "TimeMap"]
