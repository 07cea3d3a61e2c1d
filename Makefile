# onething — the two commands of the README (`make run`, `make test`) set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_PY := $(VENV)/.installed
STAMP_JS := node_modules/.installed

.PHONY: run test lint bench mutation setup clean

setup: $(STAMP_PY) $(STAMP_JS)

# WeasyPrint (certificate and receipt PDFs) loads Debian's pango and harfbuzz-subset and draws
# Chinese with the Noto CJK fonts (pre-review's test documents are drawn with them too), and
# OpenCV (pulled in by rapidocr for pre-review OCR) loads libGL and glib; as root, install them
# when missing (a developer without root installs them once by hand).
PDF_LIBS := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libgl1 libglib2.0-0

$(STAMP_PY): pyproject.toml
	@if [ "$$(id -u)" = "0" ] && ! { fc-list 2>/dev/null | grep -qi "noto.*cjk" \
	    && ldconfig -p | grep -q libpangoft2-1.0.so.0 \
	    && ldconfig -p | grep -q libharfbuzz-subset.so.0 && ldconfig -p | grep -q libGL.so.1 \
	    && ldconfig -p | grep -q libgthread-2.0.so.0; }; then \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_LIBS) >/dev/null; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(STAMP_JS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/onething serve --host 127.0.0.1 --port 8000 --demo

# lint-imports first: a broken dependency rule (pyproject's [tool.importlinter]) fails fast.
# The page tests drive Debian's chromium (never a downloaded browser); as root, install it when missing.
test: setup
	@if [ "$$(id -u)" = "0" ] && ! command -v chromium >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check engine forms api tests examples
	$(BIN)/ruff format --check engine forms api tests examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

bench: setup
	$(BIN)/python -m tests.bench

# mutmut over the rule modules, one at a time, each against its own tests (tests/mutation/run.py);
# prints each module's killed / total, and the same without mutants of message text only.
# MODULES=engine.store runs only the named modules (dotted names).
mutation: setup
	$(BIN)/python -m tests.mutation.run $(MODULES)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
