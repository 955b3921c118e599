"""The vocabulary of prompt parsing: tempo words, moods, tune types, styles, extra instrument names.

Units: tempos are felt beats per minute (``bpm``): a quarter note in 4/4 and 3/4, a half note in 2/2, a
dotted quarter in 6/8, 9/8 and 12/8. :mod:`musicllm.generation.controls` turns them into quarter notes
per minute (``tempo_qpm``) once the meter is known (``qpm = bpm * Meter.beat_qn``).

The numbers are typical values, chosen by hand from common practice (session tempos of Irish and
Scottish dance music, metronome ranges of Italian tempo terms); they are defaults a prompt can override.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class TempoWord:
    """A tempo word: its usual range and default in felt beats per minute. ``factor`` (English words
    only) scales a tune type's own tempo instead ("a slow reel" is slower than a reel, not 70 bpm)."""

    default_bpm: float
    low_bpm: float
    high_bpm: float
    factor: float | None = None


TEMPO_WORDS: dict[str, TempoWord] = {
    # Italian terms (absolute ranges)
    "grave": TempoWord(40, 25, 45), "largo": TempoWord(50, 40, 60), "lento": TempoWord(52, 45, 60),
    "larghetto": TempoWord(63, 60, 66), "adagio": TempoWord(70, 55, 76), "adagietto": TempoWord(75, 70, 80),
    "andante": TempoWord(92, 73, 108), "andantino": TempoWord(96, 78, 108), "moderato": TempoWord(110, 98, 120),
    "allegretto": TempoWord(116, 100, 128), "allegro": TempoWord(138, 120, 156), "vivace": TempoWord(166, 156, 176),
    "presto": TempoWord(184, 168, 200), "prestissimo": TempoWord(208, 200, 260),
    # English words (relative to a tune type when there is one)
    "very slow": TempoWord(50, 30, 60, 0.65), "very slowly": TempoWord(50, 30, 60, 0.65),
    "slow": TempoWord(70, 50, 88, 0.8), "slowly": TempoWord(70, 50, 88, 0.8), "slower": TempoWord(70, 50, 88, 0.8),
    "leisurely": TempoWord(72, 50, 90, 0.85), "unhurried": TempoWord(72, 50, 90, 0.85),
    "sluggish": TempoWord(66, 40, 80, 0.75), "relaxed tempo": TempoWord(80, 60, 96, 0.9),
    "moderate": TempoWord(100, 84, 120, 1.0), "moderately": TempoWord(100, 84, 120, 1.0),
    "medium tempo": TempoWord(100, 84, 120, 1.0), "mid tempo": TempoWord(100, 84, 120, 1.0),
    "midtempo": TempoWord(100, 84, 120, 1.0), "walking pace": TempoWord(96, 84, 112, 1.0),
    "fast": TempoWord(144, 116, 200, 1.2), "quick": TempoWord(144, 116, 200, 1.2),
    "quickly": TempoWord(144, 116, 200, 1.2), "faster": TempoWord(144, 116, 200, 1.2),
    "brisk": TempoWord(132, 112, 176, 1.1), "briskly": TempoWord(132, 112, 176, 1.1),
    "rapid": TempoWord(160, 130, 220, 1.3), "speedy": TempoWord(160, 130, 220, 1.3),
    "swift": TempoWord(150, 120, 210, 1.2), "up tempo": TempoWord(140, 116, 200, 1.15),
    "uptempo": TempoWord(140, 116, 200, 1.15),
    "very fast": TempoWord(184, 160, 260, 1.4), "very quick": TempoWord(184, 160, 260, 1.4),
}


@dataclass(frozen=True)
class Mood:
    """A mood: the mode it suggests (``"major"``, ``"minor"`` or None), a tempo factor applied to a tune
    type's tempo, and a default tempo (felt bpm) when nothing else sets one."""

    mode: str | None
    factor: float
    default_bpm: float


MOODS: dict[str, Mood] = {
    "happy": Mood("major", 1.1, 126), "lively": Mood("major", 1.2, 144), "playful": Mood("major", 1.1, 120),
    "triumphant": Mood("major", 1.0, 104), "sad": Mood("minor", 0.8, 66), "dark": Mood("minor", 0.9, 84),
    "angry": Mood("minor", 1.25, 160), "calm": Mood(None, 0.85, 72), "romantic": Mood(None, 0.9, 80),
    "solemn": Mood(None, 0.8, 66),
}

MOOD_WORDS: dict[str, str] = {}
for _mood, _words in {
    "happy": "happy happier cheerful cheery joyful joyous merry jolly glad bright brighter sunny festive "
             "jubilant celebratory gleeful optimistic uplifting",
    "lively": "lively livelier energetic spirited bouncy exciting driving vigorous sprightly peppy rousing "
              "upbeat animated",
    "playful": "playful whimsical cheeky quirky lighthearted light-hearted carefree",
    "triumphant": "triumphant majestic heroic grand stately noble epic victorious proud regal",
    "sad": "sad sadder sorrowful mournful melancholy melancholic gloomy gloomier tearful wistful lament "
           "lamenting tragic heartbroken somber sombre doleful grieving nostalgic",
    "dark": "dark darker ominous sinister menacing brooding eerie spooky haunting mysterious creepy tense",
    "angry": "angry angrier aggressive furious fierce fiery stormy",
    "calm": "calm calmer peaceful relaxed relaxing gentle gentler serene tranquil soothing quiet quieter "
            "mellow placid restful dreamy lullaby meditative",
    "romantic": "romantic tender loving lyrical sweet intimate",
    "solemn": "solemn reverent sacred prayerful",
}.items():
    for _w in _words.split():
        MOOD_WORDS[_w] = _mood


@dataclass(frozen=True)
class TuneType:
    """A tune type: the meters it is written in (first = default; empty = any), its usual tempo in felt
    beats per minute in the default meter, and the usual ABC unit note length ``L:``."""

    meters: tuple[str, ...]
    bpm: float
    unit: Fraction = Fraction(1, 8)


TUNE_TYPES: dict[str, TuneType] = {
    "jig": TuneType(("6/8",), 116), "slip jig": TuneType(("9/8",), 112), "hop jig": TuneType(("9/8",), 112),
    "single jig": TuneType(("6/8", "12/8"), 120), "slide": TuneType(("12/8", "6/8"), 130),
    "reel": TuneType(("4/4", "2/2"), 192), "hornpipe": TuneType(("4/4", "2/2"), 150),
    "strathspey": TuneType(("4/4", "2/2"), 128), "barndance": TuneType(("4/4",), 160),
    "fling": TuneType(("4/4",), 150), "schottische": TuneType(("4/4", "2/4"), 150),
    "polka": TuneType(("2/4",), 140), "march": TuneType(("2/4", "6/8", "4/4", "2/2"), 116),
    "waltz": TuneType(("3/4",), 132), "mazurka": TuneType(("3/4",), 140), "polska": TuneType(("3/4",), 120),
    "minuet": TuneType(("3/4",), 120, Fraction(1, 4)), "sarabande": TuneType(("3/4", "3/2"), 66, Fraction(1, 4)),
    "gavotte": TuneType(("4/4", "2/2"), 120), "bourree": TuneType(("2/2", "4/4"), 72),
    "gigue": TuneType(("6/8", "12/8"), 120), "tango": TuneType(("2/4", "4/4"), 120),
    "chorale": TuneType(("4/4", "3/4"), 76, Fraction(1, 4)), "hymn": TuneType(("4/4", "3/4"), 84, Fraction(1, 4)),
    "air": TuneType((), 66), "slow air": TuneType((), 60),
}

#: Written forms of tune types (regular expressions, matched on lower-case text; plurals allowed).
TUNE_PATTERNS: list[tuple[str, str]] = [
    (r"slip[\s-]?jigs?", "slip jig"), (r"hop[\s-]?jigs?", "hop jig"), (r"single[\s-]?jigs?", "single jig"),
    (r"double[\s-]?jigs?", "jig"), (r"jigs?", "jig"), (r"slides?(?!\s+(?:guitar|whistle|trombone|show|rule))", "slide"),
    (r"reels?", "reel"), (r"hornpipes?", "hornpipe"), (r"strathspeys?", "strathspey"),
    (r"barn[\s-]?dances?", "barndance"), (r"flings?", "fling"), (r"schottisches?", "schottische"),
    (r"polkas?", "polka"), (r"marches", "march"), (r"march", "march"), (r"waltz(?:es)?", "waltz"),
    (r"mazurkas?", "mazurka"), (r"polskas?", "polska"), (r"minuets?", "minuet"), (r"menuets?", "minuet"),
    (r"sarabandes?", "sarabande"), (r"gavottes?", "gavotte"), (r"bourr[eé]es?", "bourree"),
    (r"gigues?", "gigue"), (r"tangos?", "tango"), (r"chorales?", "chorale"), (r"hymns?", "hymn"),
    (r"slow\s+airs?", "slow air"), (r"airs?", "air"),
]

STYLE_WORDS = frozenset(
    "irish scottish scots welsh english breton french swedish norwegian danish scandinavian klezmer balkan "
    "celtic appalachian american bluegrass old-time oldtime cajun baroque classical renaissance medieval "
    "folk traditional jazz jazzy blues bluesy gospel latin flamenco spanish italian german russian greek "
    "chinese japanese arabic shetland cape-breton".split())

#: Instrument names that General MIDI lacks or that musicians say differently (name -> GM program).
#: GM has no mandolin or bouzouki: they get the steel-string guitar (25).
INSTRUMENT_EXTRAS: dict[str, int] = {
    "concertina": 21, "button accordion": 21, "melodeon": 21, "uilleann pipes": 109, "pipes": 109,
    "highland pipes": 109, "bouzouki": 25, "mandolin": 25, "ukulele": 24, "harmonium": 20, "synth": 80,
    "synthesizer": 80, "electric piano": 4, "rhodes": 4, "upright bass": 32, "string bass": 32,
    "hammered dulcimer": 15, "dulcimer": 15, "music box": 10, "tubular bells": 14, "steel drums": 114,
    "kalimba": 108, "koto": 107, "shakuhachi": 77, "shamisen": 106, "tin whistle": 78, "penny whistle": 78,
    "low whistle": 78, "flute": 73, "fife": 72, "lute": 24, "bells": 14, "choir": 52, "vocals": 52,
    "singer": 52, "strings": 48, "horns": 61, "pan pipes": 75, "panpipes": 75,
}

#: Ensembles name several instruments (GM programs, highest part first).
ENSEMBLES: dict[str, tuple[int, ...]] = {
    "string quartet": (40, 40, 41, 42), "string trio": (40, 41, 42), "piano trio": (40, 42, 0),
    "brass quintet": (56, 56, 60, 57, 58), "wind quintet": (73, 68, 71, 60, 70),
    "woodwind quintet": (73, 68, 71, 60, 70), "brass band": (56, 60, 57, 58),
}

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "twenty": 20, "twenty-four": 24, "twenty four": 24, "thirty-two": 32, "thirty two": 32,
    "forty-eight": 48, "sixty-four": 64, "a": 1, "an": 1, "a couple of": 2, "a few": 3,
}

#: Lengths named by a word, in bars.
LENGTH_WORDS: dict[str, int] = {"very short": 4, "tiny": 4, "short": 8, "brief": 8, "long": 32, "very long": 64}

#: Meters named by words (lower-case phrase -> meter text).
METER_WORDS: dict[str, str] = {
    "common time": "4/4", "cut time": "2/2", "cut common time": "2/2", "alla breve": "2/2", "waltz time": "3/4",
    "triple time": "3/4", "triple meter": "3/4", "duple time": "2/4", "duple meter": "2/4",
    "quadruple time": "4/4", "compound duple": "6/8", "compound triple": "9/8", "compound quadruple": "12/8",
    "march time": "2/4", "jig time": "6/8", "six eight": "6/8", "six-eight": "6/8", "three four": "3/4",
    "three-four": "3/4", "four four": "4/4", "four-four": "4/4", "two four": "2/4", "two-four": "2/4",
    "nine eight": "9/8", "nine-eight": "9/8", "twelve eight": "12/8", "twelve-eight": "12/8",
    "five four": "5/4", "five-four": "5/4", "seven eight": "7/8", "seven-eight": "7/8", "two two": "2/2",
    "two-two": "2/2",
}

#: Words that carry no control and are not reported as ignored.
FILLER = frozenset("""
a an the and or but with without in on of for to at by from into onto as it its it's this that these those
some something me us my our your you i we he she they them please can could would should will shall may
might must do does did be is are was were been being have has had write compose generate create make
made give play played playing perform performed piece pieces tune tunes song songs melody melodies music
musical track tracks composition compositions number sound sounds sounding feel feels feeling like kind
sort bit little very really quite rather more most less least one just also then than so such new
around about approx approximately roughly nice good lovely beautiful pretty nicely simple style styled
version arrangement arranged key time tempo meter metre signature mode bars bar measures measure
mood vibe character speed pace rhythm beat beats per minute bpm qpm part parts instrument instruments
solo duet trio quartet ensemble dance dances dancing
""".split())

#: Words understood but not supported as controls: reported as ignored, never given to the embeddings.
UNSUPPORTED = frozenset("drum drums drummer drumming percussion percussive lyrics words beatbox".split())

def embedding_prototypes() -> dict[tuple[str, str], tuple[str, ...]]:
    """Words that stand for each (category, label) in the embedding fallback. Categories: ``mood``,
    ``tempo`` (labels ``slow`` / ``fast``), ``tune_type``, ``instrument`` (labels are GM programs as
    text)."""
    from musicllm.score.instruments import ALIASES

    protos: dict[tuple[str, str], list[str]] = {}
    for word, mood in MOOD_WORDS.items():  # leftover words are single words: so are the prototypes
        if "-" not in word:
            protos.setdefault(("mood", mood), []).append(word)
    protos[("tempo", "slow")] = ["slow", "slowly", "sluggish", "unhurried", "leisurely"]
    protos[("tempo", "fast")] = ["fast", "quick", "quickly", "rapid", "speedy", "swift"]
    for name in TUNE_TYPES:
        if " " not in name:
            protos.setdefault(("tune_type", name), []).append(name)
    for name, prog in {**ALIASES, **INSTRUMENT_EXTRAS}.items():
        if " " not in name:
            protos.setdefault(("instrument", str(prog)), []).append(name)
    return {k: tuple(v) for k, v in protos.items()}
