"""tag_audio: musicnn tags of real clips, grouping, time series, options and input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicllm.analysis.tagging import (
    ALL_MODELS,
    GROUPS,
    MSD,
    MTT,
    PREFERRED_MODEL,
    TAG_GROUPS,
    hop_frames_from_seconds,
    tag_audio,
)
from musicllm.errors import AudioError, MusicLLMError
from musicllm.models.taggers.musicnn import MODELS

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = json.loads((ROOT / "tests/models/fixtures/musicnn_reference.json").read_text())


@pytest.fixture(scope="module")
def violin() -> tuple[np.ndarray, int, dict]:
    entry = REFERENCE["clips"]["jig_violin"]
    y, sr = sf.read(ROOT / entry["file"], frames=entry["samples"], dtype="float32")
    return y, sr, entry


@pytest.fixture(scope="module")
def violin_tags(violin: tuple[np.ndarray, int, dict]):
    y, sr, _ = violin
    return tag_audio(y, sr, model="all")


def test_every_label_has_one_group() -> None:
    for model, labels in MODELS.items():
        assert sorted(TAG_GROUPS[model]) == sorted(labels)
        assert set(TAG_GROUPS[model].values()) <= set(GROUPS)


def test_scores_are_musicnns_clip_means(violin, violin_tags) -> None:
    _, _, entry = violin
    assert violin_tags.models == ALL_MODELS
    for model in ALL_MODELS:
        got = np.array([violin_tags.scores[model][t] for t in MODELS[model]])
        np.testing.assert_allclose(got, entry[model], atol=1e-4, rtol=0)
        np.testing.assert_allclose(violin_tags.series[model], entry["taggram"][model], atol=1e-4, rtol=0)
    assert violin_tags.patches_used == 3 and violin_tags.times_s == pytest.approx([0.0, 2.992, 5.984])
    assert violin_tags.duration_s == pytest.approx(10.0, abs=1e-3)


def test_groups_rank_and_deduplicate(violin_tags) -> None:
    groups = violin_tags.groups
    assert list(groups) == list(GROUPS)
    assert groups["instruments"][0].tag == "violin"  # the solo fiddle clip
    for g, tags in groups.items():
        scores = [t.score for t in tags]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        names = [t.tag.lower() for t in tags]
        assert len(names) == len(set(names)), g
    # tags both models have: the group keeps the preferred model's score
    by_tag = {(t.group, t.tag): t for ts in groups.values() for t in ts}
    assert by_tag[("instruments", "guitar")].model == PREFERRED_MODEL["instruments"] == MTT
    assert by_tag[("genres", "rock")].model == PREFERRED_MODEL["genres"] == MSD
    assert by_tag[("genres", "rock")].score == violin_tags.scores[MSD]["rock"]
    assert by_tag[("genres", "classical")].model == MTT  # only MTT has it
    total = sum(len(ts) for ts in groups.values())
    shared = {(TAG_GROUPS[MTT][t], t.lower()) for t in MODELS[MTT]} & \
        {(TAG_GROUPS[MSD][t], t.lower()) for t in MODELS[MSD]}
    assert total == 100 - len(shared)
    top = violin_tags.top(3)
    assert [t.score for t in top] == sorted((t.score for ts in groups.values() for t in ts), reverse=True)[:3]
    assert violin_tags.top(2, group="moods") == groups["moods"][:2]
    assert violin_tags.score("violin") == violin_tags.scores[MTT]["violin"]
    assert violin_tags.instruments == [(t.tag, t.score) for t in groups["instruments"]]
    assert violin_tags.genres[0] == (groups["genres"][0].tag, groups["genres"][0].score)
    assert len(violin_tags.moods) == len(groups["moods"]) and len(violin_tags.other) == len(groups["other"])
    assert "MTT_musicnn+MSD_musicnn" in violin_tags.model_name
    with pytest.raises(MusicLLMError):
        violin_tags.top(3, group="colours")


def test_to_json(violin_tags) -> None:
    plain = json.loads(json.dumps(violin_tags.to_json()))
    assert plain["models"] == list(ALL_MODELS) and plain["patches"] == 3
    assert set(plain["groups"]) == set(GROUPS) and "series" not in plain
    assert plain["groups"]["instruments"][0]["tag"] == "violin"
    full = json.loads(json.dumps(violin_tags.to_json(series=True)))
    assert len(full["times_s"]) == 3 and len(full["series"][MTT]) == 3 and len(full["series"][MTT][0]) == 50


def test_options_and_short_or_stereo_audio(violin) -> None:
    y, sr, _ = violin
    mtt_only = tag_audio(y, sr)
    assert mtt_only.models == (MTT,) and set(mtt_only.scores) == {MTT}
    import torch

    before = torch.get_num_threads()
    capped = tag_audio(y, sr, MTT, max_patches=2, num_threads=1)
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(capped.series[MTT], mtt_only.series[MTT][[0, 2]], atol=1e-5)
    assert capped.patches_used == 2 and capped.times_s == pytest.approx([0.0, 5.984])
    assert hop_frames_from_seconds(None) == 187 and hop_frames_from_seconds(1.0) == 61
    overlapped = tag_audio(y[: sr * 5], sr, MSD, hop_s=1.0)
    assert overlapped.patches_used == len(range(0, (1 + 80000 // 256) - 187 + 1, 61))
    short = tag_audio(y[: sr // 2], sr)  # half a second: repeated to fill one 3-s patch
    assert short.patches_used == 1 and short.duration_s == pytest.approx(0.5, abs=1e-3)
    stereo = tag_audio(np.stack([y[: sr * 4], y[: sr * 4]]), sr)
    mono = tag_audio(y[: sr * 4], sr)
    np.testing.assert_allclose(stereo.series[MTT], mono.series[MTT], atol=1e-6)


def test_input_errors() -> None:
    with pytest.raises(AudioError, match="no samples"):
        tag_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="NaN"):
        tag_audio(np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(AudioError, match="sample rate"):
        tag_audio(np.zeros(16000, np.float32), 0)
    with pytest.raises(MusicLLMError, match="unknown tagging model"):
        tag_audio(np.zeros(16000, np.float32), 16000, model="MTT_vgg")
    with pytest.raises(MusicLLMError, match="positive"):
        tag_audio(np.zeros(16000, np.float32), 16000, hop_s=0.0)
