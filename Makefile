# The two commands of the README: `make run` and `make test`. Both set everything up first
# and are safe to repeat.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup models run test lint bench bench-load bench-text text-figures docs browser

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

# The service with its web UI on http://127.0.0.1:8000/ (CONTENTGUARD_HOST / _PORT change it).
run: models
	$(BIN)/contentguard serve

# The web UI tests drive Debian's chromium (never a downloaded browser). Installed when we
# may (root and apt-get); otherwise those tests skip locally, naming the package.
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the web UI tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else \
		echo "note: $(CHROMIUM) not found; the web UI tests will skip (sudo apt-get install chromium)"; \
	fi

lint: setup
	$(BIN)/ruff check src tests tools

# The training extra (torch CPU build, sentence-transformers) is for tests and training only.
TRAIN_STAMP := $(VENV)/.train-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
$(TRAIN_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	rm -f $(VENV)/.train-*
	touch $@

test: models lint browser $(TRAIN_STAMP)
	$(BIN)/pytest

bench: models
	$(BIN)/contentguard bench

# The HTTP service under load (about 8 minutes: 4 levels × 20 s, half-rate run, 5-minute soak).
bench-load: models
	$(BIN)/contentguard bench-load

# Texts/s of each text stage, and our encoder against sentence-transformers (needs the train extra).
bench-text: models
	$(BIN)/contentguard bench-text

# Every text figure of issue #4 again, in one command (about 15 minutes): both heads with their
# cards and test-split reports (benchmarks/text-*.md; the .npz files come out byte-identical),
# then bench-text (benchmarks/text.*, the README's text section).
text-figures: models $(TRAIN_STAMP)
	$(BIN)/contentguard train-text --task hate
	$(BIN)/contentguard train-text --task spam
	$(BIN)/contentguard bench-text

docs: setup
	$(BIN)/python -m contentguard.settings > docs/settings.md
	$(BIN)/python -m contentguard.server.openapi > docs/openapi.json
