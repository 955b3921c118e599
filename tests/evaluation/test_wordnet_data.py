"""Installing Debian's WordNet for NLTK: lexnames table, idempotent copy, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from musicllm.errors import MissingDependencyError
from musicllm.evaluation import wordnet_data as W

has_debian_wordnet = pytest.mark.skipif(
    not all((W.DEBIAN_WORDNET_DIR / f).is_file() for f in W.REQUIRED_FILES),
    reason="Debian WordNet not installed (apt-get install wordnet-base wordnet-sense-index)")

POS_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def test_lexnames_table_shape():
    lines = W.lexnames_text().splitlines()
    assert len(lines) == 45
    for i, line in enumerate(lines):
        num, name, cat = line.split("\t")
        assert num == f"{i:02d}" and int(cat) == POS_CATEGORY[name.split(".")[0]]


@has_debian_wordnet
def test_lexnames_agree_with_the_database_files():
    # Every lex_filenum used in data.<pos> must name a lexicographer file of that part of speech.
    names = {num: name for num, name, _ in W.LEXNAMES}
    for pos in POS_CATEGORY:
        used = set()
        with open(W.DEBIAN_WORDNET_DIR / f"data.{pos}", encoding="utf-8") as f:
            for line in f:
                if not line.startswith(" "):  # the licence header lines start with two spaces
                    used.add(int(line.split(" ", 2)[1]))
        assert used and all(names[n].startswith(pos + ".") for n in used)


@has_debian_wordnet
def test_install_is_idempotent_and_complete(tmp_path):
    corpus = W.install(tmp_path)
    assert corpus == tmp_path / "corpora" / "wordnet"
    for name in (*W.REQUIRED_FILES, "lexnames"):
        path = corpus / name
        assert path.is_file() and not path.is_symlink()
    assert (corpus / "data.noun").stat().st_size == (W.DEBIAN_WORDNET_DIR / "data.noun").stat().st_size
    stamps = {p.name: p.stat().st_mtime_ns for p in corpus.iterdir()}
    assert W.install(tmp_path) == corpus
    assert {p.name: p.stat().st_mtime_ns for p in corpus.iterdir()} == stamps  # nothing rewritten
    assert W.is_available([str(tmp_path)])
    assert W.main(["install", "--dest", str(tmp_path)]) == 0


def test_missing_source_names_the_packages(tmp_path, capsys):
    with pytest.raises(MissingDependencyError, match="apt-get install wordnet-base wordnet-sense-index"):
        W.install(tmp_path / "dest", src=tmp_path)
    assert W.main(["install", "--dest", str(tmp_path / "d"), "--src", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "wordnet-base" in err


def test_availability_checks_the_search_path(tmp_path):
    assert not W.is_available([str(tmp_path)])
    with pytest.raises(MissingDependencyError, match=r"wordnet_data install"):
        W.require_wordnet([str(tmp_path)])
    partial = Path(tmp_path) / "corpora" / "wordnet"
    partial.mkdir(parents=True)
    (partial / "data.noun").write_text("")
    assert not W.is_available([str(tmp_path)])  # incomplete corpus (no lexnames, ...)


@pytest.mark.skipif(not W.is_available(), reason="WordNet for NLTK not installed")
def test_english_reader_finds_synsets_with_lexnames():
    wn = W.english_wordnet()
    assert wn.synset("dog.n.01").lexname() == "noun.animal"
    assert wn.synset("run.v.01").lexname() == "verb.motion"
    assert any("fast" in s.lemma_names() for s in wn.synsets("quick"))
