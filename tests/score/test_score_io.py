import sys
import types
from fractions import Fraction as F

import pytest

from musicllm.errors import NotationError
from musicllm.score.io import READ_EXTENSIONS, WRITE_EXTENSIONS, read_score, write_score
from musicllm.score.model import Key, Meter, Note, Part, Score


def _score():
    notes = [Note(p, i * 0.5, i * 0.5 + 0.5, 80, F(i), F(i + 1)) for i, p in enumerate([60, 64, 67, 72])]
    return Score(parts=[Part("Piano", 0, notes)], tempo_qpm=120.0, meter=Meter(4, 4), key=Key("C", "major"),
                 title="IO")


@pytest.mark.parametrize("ext", [".mid", ".midi", ".musicxml", ".xml", ".mxl", ".json"])
def test_write_then_read_by_extension(tmp_path, ext):
    path = write_score(_score(), tmp_path / f"s{ext}")
    r = read_score(path)
    assert [(n.pitch, n.onset_qn, n.offset_qn) for n in r.parts[0].sorted_notes()] == [
        (n.pitch, n.onset_qn, n.offset_qn) for n in _score().parts[0].notes]


def test_svg_is_write_only(tmp_path):
    path = write_score(_score(), tmp_path / "s.svg")
    assert path.read_text().lstrip().startswith("<svg")
    with pytest.raises(NotationError, match=r"s\.svg.*supported: \.abc"):
        read_score(path)


def test_abc_dispatch_is_lazy(tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("musicllm.score.abc")
    fake.read_abc_file = lambda p: calls.append(("read", p)) or _score()
    fake.write_abc_file = lambda s, p: calls.append(("write", p)) or p
    monkeypatch.setitem(sys.modules, "musicllm.score.abc", fake)
    out = write_score(_score(), tmp_path / "t.abc")
    (tmp_path / "t.abc").write_text("X:1\n")
    read_score(tmp_path / "t.abc")
    assert [c[0] for c in calls] == ["write", "read"] and out == tmp_path / "t.abc"


def test_unknown_extensions(tmp_path):
    with pytest.raises(NotationError, match=r"x\.pdf.*'\.pdf'.*\.mid"):
        write_score(_score(), tmp_path / "x.pdf")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(NotationError, match=r"x\.txt.*supported"):
        read_score(tmp_path / "x.txt")
    with pytest.raises(NotationError, match="no such file"):
        read_score(tmp_path / "missing.mid")
    assert ".svg" in WRITE_EXTENSIONS and ".svg" not in READ_EXTENSIONS
