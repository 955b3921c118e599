"""Install WordNet 3.0 for NLTK (METEOR's synonym stage) from Debian's packages, offline.

NLTK's ``wordnet`` corpus reader wants the WordNet database files in
``<nltk_data>/corpora/wordnet/`` plus a ``lexnames`` file. Debian's ``wordnet-base`` (and
``wordnet-sense-index`` for ``index.sense``) install the database in ``/usr/share/wordnet`` but no
``lexnames``; this module copies the files (copies, not links: NLTK reads them by path and a later
``apt-get remove`` must not break the installed corpus) and writes ``lexnames`` from the table in the
``lexnames(5WN)`` manual page of WordNet 3.0 (45 lexicographer files: number, name, syntactic
category 1 noun, 2 verb, 3 adjective, 4 adverb).

Usage (``make setup`` runs the first)::

    python -m musicllm.evaluation.wordnet_data install [--dest DIR] [--src /usr/share/wordnet]
    python -m musicllm.evaluation.wordnet_data check

The default destination is ``sys.prefix/nltk_data`` (inside the virtual environment), a folder NLTK
searches by default. Installing is idempotent: files already present with the same size are kept.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from musicllm.errors import MissingDependencyError
from musicllm.files import atomic_write_text, atomic_write_with

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")

#: The files NLTK 3.10's ``WordNetCorpusReader`` opens, less ``lexnames`` (written here).
REQUIRED_FILES = (
    "cntlist.rev", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)
#: Copied too when present (not needed by NLTK, small, part of the same database).
OPTIONAL_FILES = ("cntlist", "frames.vrb", "sents.vrb", "sentidx.vrb")
DEBIAN_COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")

#: lexnames(5WN), WordNet 3.0: (file number, lexicographer file name, syntactic category).
LEXNAMES: tuple[tuple[int, str, int], ...] = (
    (0, "adj.all", 3), (1, "adj.pert", 3), (2, "adv.all", 4),
    (3, "noun.Tops", 1), (4, "noun.act", 1), (5, "noun.animal", 1), (6, "noun.artifact", 1),
    (7, "noun.attribute", 1), (8, "noun.body", 1), (9, "noun.cognition", 1), (10, "noun.communication", 1),
    (11, "noun.event", 1), (12, "noun.feeling", 1), (13, "noun.food", 1), (14, "noun.group", 1),
    (15, "noun.location", 1), (16, "noun.motive", 1), (17, "noun.object", 1), (18, "noun.person", 1),
    (19, "noun.phenomenon", 1), (20, "noun.plant", 1), (21, "noun.possession", 1), (22, "noun.process", 1),
    (23, "noun.quantity", 1), (24, "noun.relation", 1), (25, "noun.shape", 1), (26, "noun.state", 1),
    (27, "noun.substance", 1), (28, "noun.time", 1),
    (29, "verb.body", 2), (30, "verb.change", 2), (31, "verb.cognition", 2), (32, "verb.communication", 2),
    (33, "verb.competition", 2), (34, "verb.consumption", 2), (35, "verb.contact", 2), (36, "verb.creation", 2),
    (37, "verb.emotion", 2), (38, "verb.motion", 2), (39, "verb.perception", 2), (40, "verb.possession", 2),
    (41, "verb.social", 2), (42, "verb.stative", 2), (43, "verb.weather", 2),
    (44, "adj.ppl", 3),
)

INSTALL_HINT = ("apt-get install wordnet-base wordnet-sense-index && "
                "python -m musicllm.evaluation.wordnet_data install")


def lexnames_text() -> str:
    """The ``lexnames`` file: one ``NN<TAB>name<TAB>category`` line per lexicographer file."""
    return "".join(f"{num:02d}\t{name}\t{cat}\n" for num, name, cat in LEXNAMES)


def default_dest() -> Path:
    """``sys.prefix/nltk_data``: searched by NLTK, private to this (virtual) environment."""
    return Path(sys.prefix) / "nltk_data"


def install(dest: str | os.PathLike | None = None, src: str | os.PathLike = DEBIAN_WORDNET_DIR) -> Path:
    """Copy WordNet from ``src`` into ``dest/corpora/wordnet`` and write ``lexnames``.

    Returns the corpus folder. Files already there with the same size as the source are kept, so a
    second run copies nothing. Raises :class:`MissingDependencyError` naming the apt packages when a
    required file is missing from ``src``.
    """
    src_dir = Path(src)
    missing = [name for name in REQUIRED_FILES if not (src_dir / name).is_file()]
    if missing:
        raise MissingDependencyError(
            f"WordNet files not found in {src_dir} (missing {', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}); run: apt-get install wordnet-base wordnet-sense-index")
    corpus = Path(dest if dest is not None else default_dest()) / "corpora" / "wordnet"
    corpus.mkdir(parents=True, exist_ok=True)
    sources = [src_dir / n for n in REQUIRED_FILES] + [src_dir / n for n in OPTIONAL_FILES if (src_dir / n).is_file()]
    if DEBIAN_COPYRIGHT.is_file():
        sources.append(DEBIAN_COPYRIGHT)
    for source in sources:
        target = corpus / ("LICENSE" if source == DEBIAN_COPYRIGHT else source.name)
        if target.is_file() and not target.is_symlink() and target.stat().st_size == source.stat().st_size:
            continue
        if target.is_symlink():
            target.unlink()
        atomic_write_with(target, lambda tmp, s=source: shutil.copyfile(s, tmp))
    lexnames = corpus / "lexnames"
    text = lexnames_text()
    if not lexnames.is_file() or lexnames.read_text(encoding="utf-8") != text:
        atomic_write_text(lexnames, text)
    return corpus


def find_corpus(paths: list[str] | None = None) -> Path | None:
    """The WordNet folder NLTK would use (``corpora/wordnet`` on ``paths``, default ``nltk.data.path``)
    if it holds every file the reader needs, else ``None``. Cheap: checks files, parses nothing.

    A ``wordnet.zip`` from ``nltk.download`` counts as complete (its path is returned).
    """
    import nltk

    for root in (nltk.data.path if paths is None else paths):
        corpus = Path(root) / "corpora" / "wordnet"
        if all((corpus / name).is_file() for name in (*REQUIRED_FILES, "lexnames")):
            return corpus
        if corpus.with_suffix(".zip").is_file():
            return corpus.with_suffix(".zip")
    return None


def is_available(paths: list[str] | None = None) -> bool:
    """Whether NLTK can find a complete WordNet corpus (see :func:`find_corpus`)."""
    try:
        return find_corpus(paths) is not None
    except ImportError:
        return False


def require_wordnet(paths: list[str] | None = None) -> None:
    """Raise :class:`MissingDependencyError` with the install command unless NLTK has WordNet."""
    try:
        import nltk  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("METEOR needs nltk; run: pip install nltk") from exc
    if not is_available(paths):
        raise MissingDependencyError(f"METEOR needs the WordNet corpus for NLTK; run: {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def english_wordnet() -> Any:
    """NLTK's ``WordNetCorpusReader`` over the installed corpus, English only, loaded once per process.

    Same synsets, lemmas and morphology as ``nltk.corpus.wordnet``, but skips the WordNet-3.0-to-itself
    sense-key mapping NLTK 3.10 builds at load time for the multilingual OMW data (``map_wn``; about
    two thirds of the load time, unused for English). Falls back to ``nltk.corpus.wordnet`` for a
    zipped corpus. Raises :class:`MissingDependencyError` when WordNet is not installed.
    """
    require_wordnet()
    corpus = find_corpus()
    import warnings

    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    if corpus is None or corpus.suffix == ".zip":
        from nltk.corpus import wordnet

        return wordnet

    class _EnglishWordNetReader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:  # only OMW (other languages) uses the map
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": English only
        return _EnglishWordNetReader(str(corpus), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicllm.evaluation.wordnet_data",
                                     description="Install WordNet 3.0 for NLTK from Debian's wordnet-base.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_inst = sub.add_parser("install", help="copy /usr/share/wordnet into NLTK's data folder")
    p_inst.add_argument("--dest", type=Path, default=None,
                        help=f"NLTK data folder (default: {default_dest()})")
    p_inst.add_argument("--src", type=Path, default=DEBIAN_WORDNET_DIR, help="WordNet database folder")
    sub.add_parser("check", help="exit 0 if NLTK can load WordNet, 1 otherwise")
    args = parser.parse_args(argv)
    if args.cmd == "check":
        ok = is_available()
        print("wordnet: available" if ok else f"wordnet: not available; run: {INSTALL_HINT}",
              file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    try:
        corpus = install(args.dest, args.src)
    except (MissingDependencyError, OSError) as exc:
        print(f"wordnet_data: error: {exc}", file=sys.stderr)
        return 2
    print(f"WordNet installed for NLTK in {corpus}")
    if args.dest is not None:
        import nltk

        root = Path(args.dest).resolve()
        if str(root) not in {str(Path(p).resolve()) for p in nltk.data.path}:
            print(f"note: {root} is not on NLTK's search path; set NLTK_DATA={root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
