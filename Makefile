# musicllm: `make demo` installs everything and transcribes a bundled example; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0

.PHONY: setup system-deps demo test bench lint lock devset clean

setup: $(STAMP)

# Order matters here: torch first (the CPU wheel; any other torch request pulls GBs of CUDA), then
# the pinned lock, then the two packages whose metadata pulls TensorFlow/PyAudio with --no-deps, then
# musicllm itself, then WordNet for METEOR when Debian's wordnet-base is there (make system-deps).
$(STAMP): pyproject.toml requirements/lock.txt requirements/nodeps.txt requirements/torch.txt
	@command -v $(PYTHON) >/dev/null || { echo "musicllm needs $(PYTHON) (Python 3.11)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/torch.txt
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps -r requirements/nodeps.txt
	$(BIN)/pip install -q --no-deps -e .
	@if [ -d /usr/share/wordnet ]; then $(BIN)/python -m musicllm.evaluation.wordnet_data install; \
	  else echo "setup: no /usr/share/wordnet (make system-deps installs it): METEOR will be unavailable"; fi
	@touch $(STAMP)

# Optional Debian packages: abc2midi (ABC acceptance tests), two more SoundFonts (dev-set variety),
# WordNet (METEOR).
system-deps:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && apt-get install -y -qq abcmidi fluid-soundfont-gm musescore-general-soundfont-small \
	     wordnet-base wordnet-sense-index) \
	    >/dev/null 2>&1 || echo "system-deps: apt-get failed; continuing without abc2midi/extra SoundFonts"; \
	else echo "system-deps: skipped (needs root and apt-get)"; fi

demo: setup
	@rm -rf out/demo
	$(BIN)/musicllm transcribe examples/*.flac -o out/demo
	@echo; echo "Outputs in out/demo:"; ls -1 out/demo
	@echo; echo "ABC of the first example:"; head -n 20 "$$(ls out/demo/*.abc | head -n 1)"

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/transcription.py
	$(BIN)/python benchmarks/meter.py --subset all

devset: setup
	$(BIN)/python -m musicllm.data.devset devset --n-ensemble 60 --n-solo 60 --seed 0

lint: setup
	$(BIN)/ruff check src tests benchmarks

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v -iE '^(basic-pitch|tinysoundfont|musicllm|torch)==' > requirements/lock.txt

clean:
	rm -rf $(VENV) out .pytest_cache
