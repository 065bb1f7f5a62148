# The two commands of the README: `make run` and `make test`. Both set everything up first
# and are safe to repeat.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
IMAGES ?= $(wildcard ../shared/data/images/photos/*)

.PHONY: setup models run test lint bench docs

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "ContentGuard needs Python 3.11 or newer (found $(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

models: setup
	$(BIN)/contentguard models pull

# Until the HTTP service lands (issue #3) `run` moderates IMAGES (default: the shared photos).
run: models
	@if [ -z "$(strip $(IMAGES))" ]; then \
		echo 'usage: make run IMAGES="photo.jpg other.png"'; \
	else \
		$(BIN)/contentguard check $(IMAGES); \
	fi

lint: setup
	$(BIN)/ruff check src tests tools

test: models lint
	$(BIN)/pytest

bench: models
	$(BIN)/contentguard bench

docs: setup
	$(BIN)/python -m contentguard.settings > docs/settings.md
