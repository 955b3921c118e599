"""MusicQA-style pair generation: facts, captions, tags and an injected LLM; dedupe, split, JSONL."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from musicllm.analysis.facts import (
    CONFIDENT,
    USABLE,
    Dynamics,
    Measured,
    MusicFacts,
    Span,
    Tag,
)
from musicllm.data.qa import (
    SPLITS,
    TASKS,
    QARecord,
    build_qa,
    dedupe,
    facts_to_text,
    pairs_from_caption,
    pairs_from_facts,
    pairs_from_llm,
    pairs_from_tags,
    parse_llm_pairs,
    read_facts_dir,
    read_jsonl,
    read_musiccaps,
    read_tag_items,
    recording_id,
    split_by_recording,
    write_jsonl,
)
from musicllm.data.qa_vocab import aspect_vocabulary, classify_aspect, says_no_vocals
from musicllm.errors import MusicLLMError

FIXTURES = Path(__file__).parent / "fixtures"
MUSICCAPS = FIXTURES / "musiccaps_sample.csv"
SURE, HEDGED, TOO_LOW = 0.9, (USABLE + CONFIDENT) / 2, USABLE / 2
HEDGE_WORDS = ("probably", "likely")


def make_facts(**over) -> MusicFacts:
    """A hand-built recording: 95 s, 3/4 at 120 BPM, key only hedged, dynamics too unsure to state."""
    d = dict(
        duration_s=95.0,
        tempo_qpm=Measured(120.0, SURE),
        beat_bpm=Measured(120.0, SURE),
        meter=Measured("3/4", SURE),
        key=Measured("G major", HEDGED),
        chords=[Span(0, 4, "C:maj", SURE), Span(4, 8, "G:maj", SURE), Span(8, 12, "A:min", SURE),
                Span(12, 16, "F:maj", SURE), Span(16, 24, "C:maj", SURE), Span(24, 26, "N", SURE)],
        sections=[Span(0, 30, "A", SURE), Span(30, 60, "B", SURE), Span(60, 95, "A", SURE)],
        dynamics=Dynamics(mean_db=-20, range_db=12, level="soft", trend="crescendo", hop_s=0.5,
                          curve_db=[-25, -20, -15], confidence=TOO_LOW),
        instruments=[Tag("piano", SURE), Tag("violin", HEDGED), Tag("trumpet", TOO_LOW)],
        genres=[Tag("classical", SURE)],
        moods=[Tag("calm", TOO_LOW)],
        source="song.wav",
    )
    d.update(over)
    return MusicFacts(**d)


def by_task(records: list[QARecord]) -> dict[str, QARecord]:
    out = {r.task: r for r in records}
    assert len(out) == len(records), "one pair per task expected"
    return out


# ------------------------------------------------------------------------------------------ facts

def test_facts_pairs_state_the_measured_values():
    recs = by_task(pairs_from_facts(make_facts(), "song.wav", random.Random(1)))
    assert all(r.source == "facts" and r.audio == "song.wav" and r.question[-1] in "?." for r in recs.values())
    assert "120 beats per minute" in recs["tempo"].answer
    assert "3/4" in recs["meter"].answer and "three beats per bar" in recs["meter"].answer
    for chord in ("C", "G", "Am", "F"):
        assert chord in re.findall(r"[\w#]+", recs["chords"].answer)
    assert "no chord" not in recs["chords"].answer
    assert "ABA" in recs["structure"].answer and "1:35" in recs["structure"].answer
    assert "1:35" in recs["length"].answer and "95 seconds" in recs["length"].answer
    assert "classical" in recs["genre"].answer and not recs["genre"].meta["hedged"]
    assert "120" in recs["describe"].answer and "piano" in recs["describe"].answer


def test_facts_hedge_below_confident_and_drop_below_usable():
    recs = by_task(pairs_from_facts(make_facts(), "song.wav", random.Random(2)))
    key = recs["key"]
    assert "G major" in key.answer and key.meta["hedged"] and any(w in key.answer for w in HEDGE_WORDS)
    assert not recs["tempo"].meta["hedged"] and not any(w in recs["tempo"].answer for w in HEDGE_WORDS)
    inst = recs["instruments"].answer
    assert "piano" in inst and "possibly violin" in inst and "trumpet" not in inst
    assert "dynamics" not in recs and "mood" not in recs  # confidence below USABLE: not stated at all
    text = " ".join(r.answer for r in recs.values())
    assert "trumpet" not in text and "calm" not in text and "crescendo" not in text


def test_facts_all_unsure_gives_only_the_length():
    low = Measured(None, 0.0)
    facts = make_facts(tempo_qpm=Measured(100.0, TOO_LOW), beat_bpm=low, meter=Measured("4/4", TOO_LOW),
                       key=Measured("C major", TOO_LOW), chords=[], sections=[Span(0, 95, "A", TOO_LOW)],
                       instruments=[Tag("guitar", TOO_LOW)], genres=[], moods=[])
    recs = pairs_from_facts(facts, "x.wav", random.Random(0))
    assert [r.task for r in recs] == ["length"]


def test_compound_meter_gives_felt_beat_and_quarter_tempo():
    facts = make_facts(meter=Measured("6/8", SURE), beat_bpm=Measured(60.0, SURE), tempo_qpm=Measured(90.0, SURE))
    recs = by_task(pairs_from_facts(facts, "jig.wav", random.Random(0)))
    assert "60 beats per minute" in recs["tempo"].answer and "90 quarter notes" in recs["tempo"].answer
    assert "two beats per bar" in recs["meter"].answer


def test_facts_wording_depends_on_rng_only():
    a = pairs_from_facts(make_facts(), "s.wav", random.Random(5))
    b = pairs_from_facts(make_facts(), "s.wav", random.Random(5))
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    wordings = {r.question for seed in range(20) for r in pairs_from_facts(make_facts(), "s", random.Random(seed))
                if r.task == "key"}
    assert len(wordings) > 1


# ------------------------------------------------------------------------------------------ captions and tags

def test_caption_pairs_on_real_musiccaps_rows():
    items = read_musiccaps(MUSICCAPS)
    assert len(items) == 5
    first = items[0]
    assert first.audio == f"youtube:{first.meta['ytid']}#t=30,40"
    recs = by_task(pairs_from_caption(first.caption, first.aspects, first.audio, random.Random(0), **first.meta))
    assert recs["describe"].answer == " ".join(first.caption.split())
    assert "piano" in recs["instruments"].answer and "strings" in recs["instruments"].answer
    assert "sad" in recs["mood"].answer and "ballad" in recs["genre"].answer
    assert "female" in recs["vocals"].answer and "low quality" in recs["recording"].answer
    assert all(r.meta["ytid"] == first.meta["ytid"] for r in recs.values())
    # the instrumental row says so, and does not list "no voice" as an instrument
    second = by_task(pairs_from_caption(items[1].caption, items[1].aspects, items[1].audio, random.Random(0)))
    assert "no vocals" in second["vocals"].answer and "voice" not in second["instruments"].answer
    assert "slow tempo" in second["tempo"].answer
    # e-bass is spelled out
    fourth = by_task(pairs_from_caption(items[3].caption, items[3].aspects, items[3].audio, random.Random(0)))
    assert "electric bass" in fourth["instruments"].answer


@pytest.mark.parametrize("aspect, cls", [
    ("groovy bass line", "instruments"), ("soft female vocal", "vocals"), ("crowd cheering", "other"),
    ("no percussion", "other"), ("hip-hop", "genre"), ("medium to uptempo", "tempo"), ("melancholic", "mood"),
    ("poor audio quality", "recording"), ("loud", "dynamics"), ("synth pop", "genre"), ("shimmering hi hats",
                                                                                       "instruments"),
])
def test_aspect_classes(aspect, cls):
    assert classify_aspect(aspect) == cls


def test_no_vocals_aspects_and_vocabulary_counts():
    assert says_no_vocals("no voices") and says_no_vocals("Instrumental") and not says_no_vocals("male vocal")
    vocab = aspect_vocabulary([it.aspects for it in read_musiccaps(MUSICCAPS)])
    total = sum(sum(c.values()) for c in vocab.values())
    assert total == sum(len(it.aspects) for it in read_musiccaps(MUSICCAPS))
    assert vocab["instruments"]["acoustic guitar"] == 1 and vocab["vocals"]["no voice"] == 2


def test_tag_pairs():
    recs = by_task(pairs_from_tags(["guitar", "classical", "slow", "no vocals", "loud", "guitar"], "clip.mp3"))
    assert recs["tags"].answer.lower().count("guitar") == 1 and "classical" in recs["tags"].answer
    assert "guitar" in recs["instruments"].answer and "classical" in recs["genre"].answer
    assert "slow" in recs["tempo"].answer and "no vocals" in recs["vocals"].answer
    assert "loud" in recs["dynamics"].answer and all(r.source == "tags" for r in recs.values())
    assert pairs_from_tags([" ", ""], "x") == []


def test_read_mtat_annotations_groups_clips_of_a_track(tmp_path):
    p = tmp_path / "annotations_final.csv"
    header = ["clip_id", "guitar", "classical", "no vocals", "mp3_path"]
    rows = [["2", "1", "1", "0", "f/bach-cantatas-01-aria-0-29.mp3"],
            ["6", "1", "0", "1", "f/bach-cantatas-01-aria-30-59.mp3"],
            ["9", "0", "0", "0", "a/other-02-song-0-29.mp3"]]
    p.write_text("\n".join("\t".join(f'"{x}"' for x in r) for r in [header, *rows]) + "\n")
    items = read_tag_items(p)
    assert [it.tags for it in items] == [["guitar", "classical"], ["guitar", "no vocals"], []]
    assert items[0].meta["recording"] == items[1].meta["recording"] != items[2].meta["recording"]
    recs = [r for it in items for r in pairs_from_tags(it.tags, it.audio, **it.meta)]
    splits = split_by_recording(recs, seed=3)
    homes = {name for name, rs in splits.items() for r in rs if "aria" in r.audio}
    assert len(homes) == 1


def test_read_tag_jsonl_and_errors(tmp_path):
    p = tmp_path / "tags.jsonl"
    p.write_text('{"audio": "a.wav", "tags": ["piano"]}\n\n{"audio": "b.wav", "tags": [], "recording": "r"}\n')
    items = read_tag_items(p)
    assert [(i.audio, i.tags) for i in items] == [("a.wav", ["piano"]), ("b.wav", [])]
    p.write_text('{"audio": "a.wav"}\n')
    with pytest.raises(MusicLLMError, match=":1:"):
        read_tag_items(p)


def test_read_musiccaps_rejects_other_csv(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(MusicLLMError, match="missing column"):
        read_musiccaps(p)


# ------------------------------------------------------------------------------------------ LLM

class CannedLLM:
    """Stands in for an LLM backend's chat: records the messages, returns a fixed reply."""

    def __init__(self, reply: str):
        self.reply = reply
        self.calls: list[list[dict[str, str]]] = []

    def __call__(self, messages: list[dict[str, str]]) -> str:
        self.calls.append(messages)
        return self.reply


REPLY = """Here are the pairs:
```json
{"question": "What instruments are playing?", "answer": "Sustained strings and a mellow piano.", "task": "instruments"}
{"question": "How does the song feel?", "answer": "It is sad and soulful.", "task": "emotion"}
{"question": "Who is the singer?", "answer": "The singer is not mentioned in the description."}
{"question": "What is the tempo?"}
{"question": "What is the key?", "answer": "C major", "task": "key"
{"Question": "Is there singing?", "Answer": "Yes, a soft female voice.", "task": "vocals"}
```"""


def test_llm_pairs_are_parsed_and_invalid_ones_counted():
    llm = CannedLLM(REPLY)
    caption = read_musiccaps(MUSICCAPS)[0]
    got = pairs_from_llm(caption.caption, caption.audio, llm, n_pairs=5, ytid=caption.meta["ytid"])
    assert [r.task for r in got.records] == ["instruments", "mood", "vocals"]
    assert got.skipped == 3  # refusal, missing answer, broken JSON
    assert all(r.source == "llm" and r.meta["input"] == "caption" and r.meta["ytid"] for r in got.records)
    (messages,) = llm.calls
    assert [m["role"] for m in messages] == ["system", "user"]
    assert caption.caption.split()[3] in messages[1]["content"] and "JSON" in messages[0]["content"]


def test_llm_is_shown_only_usable_facts_with_uncertainty_marked():
    llm = CannedLLM('[{"question": "What key is it in?", "answer": "Probably G major.", "task": "key"}]')
    got = pairs_from_llm(make_facts(), "song.wav", llm, n_pairs=3)
    assert [(r.task, r.meta["input"]) for r in got.records] == [("key", "facts")] and got.skipped == 0
    prompt = llm.calls[0][1]["content"]
    assert "G major (uncertain)" in prompt and "120 beats per minute" in prompt
    assert "trumpet" not in prompt and "calm" not in prompt and "crescendo" not in prompt
    assert facts_to_text(make_facts()) in prompt


@pytest.mark.parametrize("reply, n_ok, n_bad", [
    ("", 0, 1),
    ("I cannot help with that.", 0, 1),
    ('{"pairs": [{"q": "What genre is it?", "a": "Rock."}, 3]}', 1, 1),
    ("Q: What genre is it?\nA: It is jazz.\nQ: Is it fast?\nA: No, it is slow.", 2, 0),
    ('{"question": "?", "answer": "x"}', 0, 1),
])
def test_parse_llm_pairs_never_raises(reply, n_ok, n_bad):
    pairs, bad = parse_llm_pairs(reply)
    assert (len(pairs), bad) == (n_ok, n_bad)
    assert all(p["task"] in TASKS for p in pairs)


def test_llm_non_string_reply_is_skipped_and_extra_pairs_dropped():
    assert pairs_from_llm("x", "a", lambda m: None).skipped == 1  # type: ignore[arg-type, return-value]
    many = "\n".join(json.dumps({"question": f"Question number {i}?", "answer": f"Answer {i}."}) for i in range(9))
    assert len(pairs_from_llm(["rock"], "a", lambda m: many, n_pairs=4).records) == 4


def test_build_qa_with_failing_backend_raises_after_three_failures():
    def down(messages):
        raise MusicLLMError("LLM backend openai:http://localhost:1/v1: unreachable")

    with pytest.raises(MusicLLMError, match="unreachable"):
        build_qa(captions=MUSICCAPS, generate=down)


# ------------------------------------------------------------------------------------------ dedupe, split, files

def rec(audio: str, q: str, a: str = "A.", task: str = "other", **meta) -> QARecord:
    return QARecord(audio, q, a, task, "caption", meta)


def test_dedupe_exact_and_near_duplicate_questions():
    records = [
        rec("a", "What instruments are playing in this song?", "Piano and drums."),
        rec("a", "what instruments are playing in this song", "piano and drums"),  # same pair
        rec("a", "Which instruments are playing?", "Drums."),  # near-duplicate question
        rec("a", "What is the mood?", "Sad."),
        rec("a", "What is the tempo?", "Slow."),
        rec("b", "Which instruments are playing?", "Drums."),  # other recording: kept
        rec("a", "What is this?", "A song."),
        rec("a", "Is it this?", "No."),  # only stop words, different question: kept
    ]
    kept = dedupe(records)
    assert [(r.audio, r.question) for r in kept] == [(records[i].audio, records[i].question)
                                                     for i in (0, 3, 4, 5, 6, 7)]


def test_split_keeps_recordings_together_and_is_deterministic():
    records = [rec(f"youtube:id{i}#t={j * 10},{j * 10 + 10}", f"Question {j} {k}?")
               for i in range(300) for j in range(2) for k in range(2)]
    splits = split_by_recording(records, (0.8, 0.1, 0.1), seed=0)
    assert sum(len(v) for v in splits.values()) == len(records)
    home: dict[str, str] = {}
    for name, rs in splits.items():
        for r in rs:
            assert home.setdefault(recording_id(r), name) == name
    n_train = sum(1 for v in home.values() if v == "train")
    assert 0.7 < n_train / 300 < 0.9
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    again = split_by_recording(shuffled, (0.8, 0.1, 0.1), seed=0)
    assert {n: sorted(r.audio + r.question for r in v) for n, v in again.items()} == \
           {n: sorted(r.audio + r.question for r in v) for n, v in splits.items()}
    other = split_by_recording(records, (0.8, 0.1, 0.1), seed=1)
    assert other != splits
    only_test = split_by_recording(records, (0, 0, 1))
    assert len(only_test["test"]) == len(records) and set(only_test) == set(SPLITS)
    with pytest.raises(MusicLLMError):
        split_by_recording(records, (0.5, 0.1, 0.1))


def test_jsonl_round_trip_is_atomic(tmp_path):
    records = pairs_from_facts(make_facts(), "song.wav", random.Random(0))
    path = write_jsonl(tmp_path / "out" / "train.jsonl", records)
    assert [r.to_dict() for r in read_jsonl(path)] == [r.to_dict() for r in records]
    lines = path.read_text().splitlines()
    assert len(lines) == len(records)
    assert set(json.loads(lines[0])) == {"audio", "question", "answer", "task", "source", "meta"}
    assert [p.name for p in path.parent.iterdir()] == ["train.jsonl"]
    with pytest.raises(ValueError):
        QARecord("a", "q?", "a", "describe", "wikipedia")


def test_facts_dir_and_build(tmp_path):
    (tmp_path / "song.json").write_text(make_facts().to_json())
    (tmp_path / "unrelated.json").write_text('{"hello": 1}')
    found = read_facts_dir(tmp_path)
    assert [(a, p.name) for a, _, p in found] == [("song.wav", "song.json")]
    build = build_qa(facts=tmp_path, captions=MUSICCAPS, seed=0)
    assert build.n_items == 6 and build.n_generated >= len(build.records) > 0
    assert {r.source for r in build.records} == {"facts", "caption"}
    again = build_qa(facts=tmp_path, captions=MUSICCAPS, seed=0)
    assert [r.to_dict() for r in again.records] == [r.to_dict() for r in build.records]
    (tmp_path / "broken.json").write_text('{"schema": "musicllm.facts/1"}')
    with pytest.raises(MusicLLMError, match="broken.json"):
        read_facts_dir(tmp_path)
