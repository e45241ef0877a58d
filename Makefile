# The README's commands.  Every target installs what it needs on first use (.venv, no compiler).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data
GALLERY ?= $(DATA)/celebs5/gallery
PHOTO  ?= $(DATA)/examples/obama.jpg

.PHONY: install test lint match bench clean

install: $(STAMP)

# dlib comes prebuilt (dlib-bin); face_recognition, the reference the tests compare against,
# goes in with --no-deps because it declares the source-built `dlib`.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps face_recognition==1.3.0
	touch $@

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# index a folder of people (incremental: only new photos are encoded), then match a photo
match: install
	$(BIN)/lookalike index "$(GALLERY)"
	$(BIN)/lookalike match "$(PHOTO)" --top 5

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
