"""describe(facts): a MusicCaps-style paragraph and tag line from measured facts only."""

from __future__ import annotations

import dataclasses
import re

import pytest
from musicfacts_samples import confident, empty, uncertain

from musicllm.language.backends import BackendError
from musicllm.language.describe import Caption, describe


def test_caption_states_the_confident_facts() -> None:
    c = describe(confident())
    assert isinstance(c, Caption)
    for value in ("folk", "violin", "acoustic guitar", "120 BPM", "3/4", "G major", "happy"):
        assert value in c.text, value
    assert "\n" not in c.text and c.text.endswith(".")
    assert c.tags[:1] == ["folk"]
    for tag in ("violin", "fast tempo", "G major", "3/4", "happy"):
        assert tag in c.tags
    assert c.tagline == ", ".join(c.tags)
    assert {"tempo_qpm", "key", "meter", "instruments", "genres", "moods"} <= set(c.grounded_on)


def test_caption_never_states_unusable_tags_or_invented_claims() -> None:
    text = describe(confident()).text.lower()
    for word in ("piano", "jazz", "sad"):  # all under USABLE
        assert not re.search(rf"\b{word}\b", text)
    assert "accordion" in text and "possibly" in text  # 0.3: hedged
    for claim in ("could be used", "movie", "advertis", "low quality", "recorded", "singer"):
        assert claim not in text


def test_caption_hedges_uncertain_values_and_skips_unusable() -> None:
    c = describe(uncertain())
    assert re.search(r"probably (around )?88 BPM|seems", c.text)
    assert "probably in E minor" in c.text
    assert "4/4" not in c.text and "classical" not in c.text  # meter 0.1, genre 0.2
    assert "4/4" not in c.tags


def test_caption_of_nothing_measured() -> None:
    c = describe(empty())
    assert "0:30" in c.text and "Nothing else was measured" in c.text
    assert c.tags == [] and c.grounded_on == ["duration_s"]
    assert not re.search(r"\bBPM\b|major|minor", c.text)


def test_caption_deterministic_and_varied_across_recordings() -> None:
    assert describe(confident()).text == describe(confident()).text
    openings = set()
    for i in range(12):
        f = dataclasses.replace(confident(), source=f"take{i}.wav")
        openings.add(describe(f).text.split(".")[0])
    assert len(openings) >= 2


def test_backend_hook_and_json() -> None:
    with pytest.raises(BackendError, match="openai:http://127.0.0.1:9/v1"):  # an error, never a fallback
        describe(confident(), backend="openai:http://127.0.0.1:9/v1")
    d = describe(confident()).to_dict()
    assert set(d) == {"text", "tags", "tagline", "grounded_on", "backend"} and d["backend"] == "builtin"
