"""Recipe for the bundled examples (run once; the FLAC files are committed).

    .venv/bin/python examples/make_examples.py

- ``chorale_quartet.flac``: J. S. Bach, chorale BWV 66.6 (music21's corpus, public domain), 4 parts on
  flute, clarinet, viola and cello at 80 qpm, first 24 s;
- ``jig_violin.flac``: the first 6/8 tune of music21's O'Neill's 1850 collection
  (public domain), on violin at 165 qpm (110 dotted quarters per minute), first 20 s.

Both rendered with pretty_midi's TimGM6mb SoundFont (so anyone can re-create them exactly), with a
light synthetic room reverb (RT60 0.5 s, seed 0), 22,050 Hz mono FLAC.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from musicllm.audio.effects import add_reverb, normalize_peak
from musicllm.audio.render import render_score
from musicllm.score.model import Score

HERE = Path(__file__).parent
SR = 22050


def _cut(score: Score, seconds: float) -> Score:
    parts = [replace(p, notes=[replace(n, offset_s=min(n.offset_s, seconds)) for n in p.notes if n.onset_s < seconds - 0.05])
             for p in score.parts]
    return replace(score, parts=parts)


def _write(score: Score, name: str) -> None:
    x = render_score(score, soundfont="TimGM6mb", sr=SR)
    x = normalize_peak(add_reverb(x, SR, rt60_s=0.5, wet=0.2, rng=np.random.default_rng(0)), -1.0)
    sf.write(HERE / name, x.astype(np.float32), SR, format="FLAC", subtype="PCM_16")
    print(f"wrote {HERE / name} ({len(x) / SR:.1f} s)")


def chorale() -> Score:
    import music21

    from musicllm.score.musicxml import music21_to_score

    s = music21_to_score(music21.corpus.parse("bach/bwv66.6"))
    for part, prog in zip(s.parts, (73, 71, 41, 42), strict=False):
        part.program = prog
    s.tempo_qpm = 80.0
    return _cut(s.with_seconds_from_qn(), 24.0)


def jig() -> Score:
    import music21

    from musicllm.score.abc import read_abc
    from musicllm.score.abc_read import split_tunes

    path = Path(music21.__file__).parent / "corpus" / "oneills1850" / "0001-0050.abc"
    if not path.exists():
        path = next((Path(music21.__file__).parent / "corpus").glob("**/*.abc"))
    tunes = [t for t in split_tunes(path.read_text(encoding="latin-1")) if "M:6/8" in t]
    s = read_abc(tunes[0], expand_repeats=True)
    s.parts[0].program = 40
    s.tempo_qpm = 165.0
    return _cut(s.with_seconds_from_qn(), 20.0)


if __name__ == "__main__":
    _write(chorale(), "chorale_quartet.flac")
    _write(jig(), "jig_violin.flac")
