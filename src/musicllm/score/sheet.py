"""Engraved sheet music as one SVG file, through verovio (from the score's MusicXML).

verovio lays the music out on A4-shaped pages; this module renders every page (each trimmed to its
content) and stacks them top to bottom in a single SVG document, sharing one set of glyph
definitions. Rendering one tall page instead is much slower in verovio (its cost grows faster than the
page's content), hence the stacking. ``max_pages`` caps the work for very long scores.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from musicllm.errors import MissingDependencyError, NotationError
from musicllm.files import atomic_write_text
from musicllm.score.model import Score
from musicllm.score.musicxml import score_to_musicxml

#: verovio options used for every render (``scale`` 50 makes an A4 page 1050 px wide).
VEROVIO_OPTIONS = {
    "scale": 50,
    "pageWidth": 2100,
    "pageHeight": 2970,
    "adjustPageHeight": True,
    "header": "auto",  # title on the first page
    "footer": "none",
    "svgFormatRaw": True,
    "breaks": "auto",
}

_ROOT_RE = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?<svg\b([^>]*)>", re.S)
_ATTR_RE = re.compile(r'([\w:-]+)="([^"]*)"')
_DEFS_RE = re.compile(r"<defs>(.*?)</defs>", re.S)
_STYLE_RE = re.compile(r"<style\b[^>]*>.*?</style>", re.S)
_DESC_RE = re.compile(r"<desc>.*?</desc>", re.S)
_GLYPH_RE = re.compile(r'<g id="([^"]+)"[^>]*>(?:(?!<g[\s>]).)*?</g>', re.S)


def _toolkit():
    try:
        import verovio
    except ImportError:  # pragma: no cover - verovio is a declared dependency
        raise MissingDependencyError("SVG sheets need verovio: pip install verovio") from None
    verovio.enableLog(verovio.LOG_OFF)
    return verovio.toolkit()


def _px(value: str) -> float:
    return float(value.strip().removesuffix("px") or 0)


def render_pages(score: Score, *, max_pages: int | None = None, options: dict | None = None) -> tuple[list[str], int]:
    """verovio's SVG pages for ``score`` (at most ``max_pages``) and the total page count."""
    tk = _toolkit()
    opts = dict(VEROVIO_OPTIONS)
    opts.update(options or {})
    tk.setOptions(opts)
    if not tk.loadData(score_to_musicxml(score)):
        raise NotationError("verovio could not engrave the score (its MusicXML was rejected)")
    total = tk.getPageCount()
    n = total if max_pages is None else max(1, min(total, max_pages))
    return [tk.renderToSVG(i) for i in range(1, n + 1)], total


def stack_pages(pages: list[str], gap_px: float = 0.0) -> str:
    """Stack verovio SVG pages vertically into one SVG document with shared glyph definitions."""
    if not pages:
        raise ValueError("no pages to stack")
    glyphs: dict[str, str] = {}
    loose_defs: list[str] = []
    bodies: list[str] = []
    style = desc = ""
    root_id = ""
    width = 0.0
    y = 0.0
    for page in pages:
        m = _ROOT_RE.match(page)
        if not m:
            raise ValueError("not an SVG page")
        attrs = dict(_ATTR_RE.findall(m.group(1)))
        root_id = root_id or attrs.get("id", "")
        w, h = _px(attrs.get("width", "0")), _px(attrs.get("height", "0"))
        inner = page[m.end():page.rfind("</svg>")]
        d = _DEFS_RE.search(inner)
        if d:
            content = d.group(1)
            if _GLYPH_RE.sub("", content).strip():
                loose_defs.append(content)  # something we do not recognise: keep it as it is
            else:
                for gm in _GLYPH_RE.finditer(content):
                    glyphs.setdefault(gm.group(1), gm.group(0))
            inner = inner[:d.start()] + inner[d.end():]
        s = _STYLE_RE.search(inner)
        if s:
            style = style or s.group(0)
            inner = inner[:s.start()] + inner[s.end():]
        dd = _DESC_RE.search(inner)
        if dd:
            desc = desc or dd.group(0)
            inner = inner[:dd.start()] + inner[dd.end():]
        bodies.append(f'<svg x="0" y="{y:g}" width="{w:g}" height="{h:g}" overflow="visible">{inner}</svg>')
        width = max(width, w)
        y += h + gap_px
    height = y - gap_px
    id_attr = f' id="{root_id}"' if root_id else ""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'version="1.1"{id_attr} width="{width:g}px" height="{height:g}px" '
            f'viewBox="0 0 {width:g} {height:g}">')
    defs = "<defs>" + "".join(glyphs.values()) + "".join(loose_defs) + "</defs>"
    background = f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="white"/>'
    return "\n".join([head, desc, defs, style, background, *bodies, "</svg>"]) + "\n"


def score_to_svg(score: Score, *, max_pages: int | None = None) -> str:
    """The engraved score as one SVG document (all pages stacked, or the first ``max_pages``)."""
    pages, _total = render_pages(score, max_pages=max_pages)
    return stack_pages(pages)


def write_svg(score: Score, path: str | os.PathLike, *, max_pages: int | None = None) -> Path:
    """Write the engraved score as one SVG file (atomically) and return the path."""
    return atomic_write_text(path, score_to_svg(score, max_pages=max_pages))
