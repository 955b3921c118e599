"""Which tag or MusicCaps aspect says what: instruments, genre, mood, tempo, vocals, recording, dynamics.

MusicCaps aspect lists are free text (13,219 distinct strings over 58,901 uses in the public CSV) with
a long tail, so aspects are not looked up whole: each is classified by the head words it contains.
The word lists below are curated from the most frequent words of the MusicCaps aspects (every word
used 20 times or more was looked at) plus MagnaTagATune's tag names; :func:`aspect_vocabulary` counts
how the aspects of a corpus fall into the classes, to check the lists' coverage on new data.

Matching is on words: the aspect is lower-cased, ``-``, ``_`` and ``/`` become spaces, other punctuation
except ``&`` and ``'`` is dropped; a keyword (one or more words) matches a run of the aspect's words, each
word also in its plural (``+s``, ``+es``). The first class in :data:`CLASS_ORDER` whose list matches
wins, so ``"groovy bass line"`` is an instrument (not a mood) and ``"soft female vocal"`` is vocals
(not dynamics). Non-music sounds (``"crowd cheering"``, ``"male voice speaking"``) and negations
other than of vocals (``"no percussion"``) are ``"other"``; ``"no voices"`` and ``"instrumental"`` are
vocals, flagged by :func:`says_no_vocals`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

CLASS_ORDER = ("vocals", "instruments", "recording", "genre", "tempo", "mood", "dynamics")
CLASSES = (*CLASS_ORDER, "other")

# Non-music sounds and speech: checked first, always "other".
SOUNDS = (
    "speaking", "talking", "talk", "speech", "spoken", "narration", "narrator", "cheering", "applause",
    "laughing", "laughter", "crowd", "audience", "chattering", "chatter", "shouting", "birds", "chirping",
    "water", "engine", "car", "siren", "phone", "beeping", "beep", "footsteps", "sound effect", "people",
    "dog", "barking", "rain", "thunder", "explosion", "gunshot", "traffic", "eating",
)

LEXICON: dict[str, tuple[str, ...]] = {
    "recording": (
        "quality", "recording", "recorded", "noisy", "noise", "mono", "stereo", "muffled", "muddy",
        "muddled", "amateur", "live", "home video", "reverb", "reverberant", "echo", "echoing", "hiss",
        "hissing", "static", "crackling", "vinyl", "fidelity", "studio", "tinny", "boomy", "mix", "mixed",
        "production", "concert",
    ),
    "vocals": (
        "vocal", "voice", "singer", "singing", "sung", "vocalist", "vocalisation", "vocalization", "choir",
        "choral", "chorus", "rapping", "rapper", "acapella", "a cappella", "humming", "chanting", "chant",
        "falsetto", "soprano", "yodel", "yodeling", "beatbox", "harmonizing",
        "harmonising", "lyrics", "whistling", "male", "female", "man", "woman", "opera singer",
    ),
    "instruments": (
        "guitar", "bass", "bassline", "drum", "drumming", "percussion", "percussive", "rimshot", "rim shot",
        "wood block", "woodblock", "hat", "piano", "keyboard", "keys",
        "synth", "synthesizer", "synthesiser", "pad", "organ", "string", "violin", "viola", "cello",
        "fiddle", "orchestra", "harp", "harpsichord", "flute", "clarinet", "oboe", "bassoon", "saxophone",
        "sax", "trumpet", "trombone", "tuba", "horn", "brass", "woodwind", "wind instrument", "accordion",
        "harmonica", "banjo", "mandolin", "ukulele", "ukelele", "sitar", "tabla", "oud", "didgeridoo",
        "bagpipe", "bansuri", "shofar", "theremin", "xylophone", "marimba", "vibraphone", "glockenspiel",
        "bell", "chime", "timpani", "cymbal", "hi hat", "hihat", "snare", "kick", "tom", "cowbell",
        "tambourine", "shaker", "conga", "bongo", "clap", "clapping", "finger snapping", "snapping",
        "triangle", "gong", "djembe", "cajon", "steel pan", "808", "turntable", "rhodes", "celesta", "lute",
        "zither", "koto", "shamisen", "erhu", "guzheng", "pipa", "bouzouki", "balalaika", "dulcimer",
        "kalimba", "mbira", "recorder", "piccolo", "ocarina", "kazoo", "harmonium", "tanpura", "tambura",
        "veena", "santoor", "sarod", "shehnai", "mridangam", "dhol", "dholak", "taiko", "instrument",
        "ensemble", "band", "quartet", "trio",
    ),
    "genre": (
        "rock", "pop", "jazz", "jazzy", "classical", "folk", "hip hop", "hiphop", "rap", "r&b", "rnb", "edm",
        "electro", "electronic", "electronica", "dance", "club", "techno", "trance", "house", "dubstep",
        "drum and bass", "dnb", "reggae", "reggaeton", "ska", "blues", "metal", "punk", "grunge", "funk",
        "funky", "soul", "gospel", "country", "bluegrass", "ballad", "lullaby", "soundtrack", "movie",
        "film score", "ambient", "trap", "latin", "salsa", "samba", "bossa nova", "tango", "flamenco",
        "world music", "regional", "traditional", "devotional", "religious", "christian", "worship", "hymn",
        "carol", "christmas", "opera", "operatic", "baroque", "orchestral", "symphonic", "symphony",
        "chamber music", "march", "marching", "waltz", "polka", "disco", "indie", "alternative", "emo",
        "goth", "psychedelic", "lo fi", "lofi", "new age", "k pop", "kpop", "j pop", "bollywood", "carnatic",
        "hindustani", "indian", "arabic", "middle eastern", "african", "afrobeat", "celtic", "irish",
        "chinese", "japanese", "spanish", "mexican", "mariachi", "cumbia", "bachata", "merengue", "kids",
        "children", "nursery rhyme", "video game", "game music", "jingle", "anthem", "swing",
        "bebop", "big band", "fusion", "experimental", "progressive", "synthwave", "synth pop", "dancehall",
        "bhangra", "qawwali", "ghazal", "eastern", "oriental", "tropical", "hardcore", "industrial", "drill",
        "urban", "easy listening",
    ),
    "tempo": (
        "tempo", "uptempo", "downtempo", "bpm", "fast", "faster", "slow", "slower", "quick", "rapid", "paced",
    ),
    "mood": (
        "emotional", "passionate", "energetic", "happy", "sad", "youthful", "spirited", "romantic", "exciting",
        "excited", "upbeat", "fun", "cheerful", "easygoing", "relaxing", "relaxed", "intense", "calming",
        "calm", "enthusiastic", "vibrant", "lively", "sentimental", "soothing", "melancholic", "melancholy",
        "joyful", "aggressive", "soulful", "playful", "buoyant", "engaging", "suspenseful", "suspense",
        "hypnotic", "eerie", "pleasant", "powerful", "animated", "positive", "inspiring", "inspirational",
        "trippy", "meditative", "nostalgic", "nostalgia", "uplifting", "epic", "chaotic", "dramatic",
        "heartfelt", "chill", "dreamy", "haunting", "vigorous", "poignant", "vivacious", "mysterious",
        "sinister", "scary", "dark", "ethereal", "weird", "spooky", "gentle", "captivating", "mystical",
        "pensive", "sensual", "atmospheric", "peaceful", "festive", "funny", "comedic", "violent", "grim",
        "manic", "ominous", "motivational", "futuristic", "mellow", "groovy", "emphatic", "tense", "tension",
        "serene", "tranquil", "creepy", "hopeful", "dangerous", "angry", "anxious", "lonely", "triumphant",
        "majestic", "heroic", "bittersweet", "somber", "sombre", "gloomy", "depressing", "tender", "quirky",
        "eccentric", "bouncy", "perky", "peppy", "adventurous", "celebratory", "touching", "beautiful",
        "boisterous", "rebellious", "cinematic", "spiritual", "meditation", "cute", "horror", "euphoric",
        "reflective", "cozy", "mesmerising", "mesmerizing", "electrifying", "enigmatic", "celestial", "exotic",
        "mood",
    ),
    "dynamics": ("loud", "soft", "quiet", "crescendo", "decrescendo", "dynamic", "volume"),
}

# Words that negate an aspect ("no percussion", "without vocals").
NEGATIONS = ("no", "without", "non", "lacks", "lacking")
# Aspects that alone mean "no vocals".
NO_VOCALS_WHOLE = ("instrumental", "instrumental music", "instrumental song", "instrumental piece",
                   "instrumental track", "instrumental only")

_SPELL = {"bass": "electric bass", "guitar": "electric guitar", "guitars": "electric guitars",
          "piano": "electric piano", "drums": "electronic drums"}
_SPELL_RE = re.compile(r"\be[- ](bass|guitars?|piano|drums)\b", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Lower-case words of an aspect: ``-``, ``_``, ``/`` split words, other punctuation is dropped."""
    t = text.lower().replace("’", "'")
    t = re.sub(r"[-_/]", " ", t)
    t = re.sub(r"[^\w&' ]", " ", t)
    out = []
    for w in t.split():
        w = w.strip("'")
        w = w[:-2] if w.endswith("'s") else w
        if w:
            out.append(w)
    return out


def _base_forms(word: str) -> tuple[str, ...]:
    """The word and the singulars it may be the plural of (``+s``, ``+es``)."""
    forms = [word]
    if word.endswith("s") and len(word) > 1:
        forms.append(word[:-1])
    if word.endswith("es") and len(word) > 2:
        forms.append(word[:-2])
    return tuple(forms)


def _index(keywords: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
    """Keywords by their first word, for matching without scanning every keyword."""
    idx: dict[str, list[tuple[str, ...]]] = {}
    for k in keywords:
        kws = tuple(k.split())
        idx.setdefault(kws[0], []).append(kws)
    return idx


def _matches(ws: list[str], index: dict[str, list[tuple[str, ...]]]) -> bool:
    forms = [_base_forms(w) for w in ws]
    for i, fs in enumerate(forms):
        for f in fs:
            for kws in index.get(f, ()):
                n = len(kws)
                if i + n <= len(ws) and all(kws[j] in forms[i + j] for j in range(1, n)):
                    return True
    return False


_LEX_INDEX = {cls: _index(kws) for cls, kws in LEXICON.items()}
_SOUNDS_INDEX = _index(SOUNDS)
_GENRE_FIRST_INDEX = _index(("synth pop", "synthwave", "drum and bass", "drum n bass"))


def says_no_vocals(aspect: str) -> bool:
    """True for aspects that state there is no singing: ``"no voices"``, ``"instrumental"``..."""
    ws = words(aspect)
    if " ".join(ws) in NO_VOCALS_WHOLE:
        return True
    return bool(ws) and ws[0] in NEGATIONS and _matches(ws, _LEX_INDEX["vocals"])


@lru_cache(maxsize=65536)
def classify_aspect(aspect: str) -> str:
    """The class of one aspect or tag: one of :data:`CLASSES` (see the module docstring for the rules)."""
    ws = words(aspect)
    if not ws:
        return "other"
    if says_no_vocals(aspect):
        return "vocals"
    if _matches(ws, _SOUNDS_INDEX) or any(w in NEGATIONS for w in ws):
        return "other"
    if _matches(ws, _GENRE_FIRST_INDEX):
        return "genre"
    for cls in CLASS_ORDER:
        if _matches(ws, _LEX_INDEX[cls]):
            return cls
    return "other"


@lru_cache(maxsize=65536)
def readable_aspect(aspect: str) -> str:
    """An aspect as it goes into an answer: trimmed, lower-case unless it has capitals inside a word
    (``"EDM"`` stays), MusicCaps shorthands spelled out (``"e-bass"`` -> ``"electric bass"``)."""
    a = " ".join(aspect.strip().split())
    if not any(c.isupper() for c in a[1:]):
        a = a[:1].lower() + a[1:]
    return _SPELL_RE.sub(lambda m: _SPELL[m.group(1).lower()], a)


def aspect_vocabulary(aspect_lists: Iterable[Iterable[str]], min_count: int = 1) -> dict[str, Counter]:
    """Count a corpus's aspects by class: ``{class: Counter(aspect -> uses)}`` over aspects used at least
    ``min_count`` times (aspects compared lower-cased and trimmed)."""
    counts: Counter = Counter()
    for aspects in aspect_lists:
        for a in aspects:
            key = " ".join(a.strip().lower().split())
            if key:
                counts[key] += 1
    out: dict[str, Counter] = {c: Counter() for c in CLASSES}
    for a, n in counts.items():
        if n >= min_count:
            out[classify_aspect(a)][a] = n
    return out
