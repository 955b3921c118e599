import re
import xml.etree.ElementTree as ET
from fractions import Fraction as F

import pytest

from musicllm.score.model import Key, Meter, Note, Part, Score
from musicllm.score.sheet import render_pages, score_to_svg, stack_pages, write_svg

SVG = "{http://www.w3.org/2000/svg}"


def _score(bars=2, title="Sheet test"):
    notes = []
    q = F(0)
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    for i in range(bars * 4):
        notes.append(Note(pitches[i % 8], 0, 0, 80, q, q + 1))
        q += 1
    return Score(parts=[Part("Piano", 0, notes)], meter=Meter(4, 4), key=Key("C", "major"), title=title)


def test_svg_is_xml_with_every_note():
    s = _score()
    svg = score_to_svg(s)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    notes = [g for g in root.iter(f"{SVG}g") if "note" in (g.get("class") or "").split()]
    assert len(notes) == 8
    assert "Sheet test" in svg


def test_long_score_stacks_pages_into_one_svg():
    s = _score(bars=120)
    pages, total = render_pages(s)
    assert total == len(pages) > 1
    svg = stack_pages(pages)
    root = ET.fromstring(svg)
    # One SVG, as tall as its pages together, glyph definitions shared (no repeated ids).
    height = float(root.get("height").removesuffix("px"))
    heights = [float(re.search(r'height="([\d.]+)px"', p).group(1)) for p in pages]
    assert height == pytest.approx(sum(heights))
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    notes = [g for g in root.iter(f"{SVG}g") if "note" in (g.get("class") or "").split()]
    assert len(notes) == 480


def test_max_pages(tmp_path):
    s = _score(bars=120)
    one = score_to_svg(s, max_pages=1)
    all_pages = score_to_svg(s)
    assert len(one) < len(all_pages)
    path = write_svg(s, tmp_path / "sheet.svg", max_pages=1)
    ET.parse(path)


def test_empty_score_renders():
    ET.fromstring(score_to_svg(Score()))
