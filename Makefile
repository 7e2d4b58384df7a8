# Payload deployment controller: one entry point for people and CI.
# Everything runs from .venv, built from the pinned requirements on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TYPINGS_STAMP := typings/.installed
PORT   ?= /dev/ttyACM0
N      ?= 1000000
MINUTES ?= 60
WORKERS ?= 3
HIL_OUT ?= hil/out
CHROMIUM := /usr/bin/chromium

.PHONY: help venv test lint typecheck mpy-compile pytest mptest icd icd-check proc-check hil hil-renode \
        bench bench-report bench-server bench-web docs-screens run flash flash-micropython faults \
        fuzz soak wear explore clean

help:
	@echo "make run      start the simulated board, a ground server on it (with the web console) and the console"
	@echo "make test     install everything into .venv and run the whole suite (what CI runs)"
	@echo "make bench    print benchmark figures; fails if a host-independent one misses its target"
	@echo "make bench-report   the same, and write docs/PERFORMANCE.md and its plot"
	@echo "make bench-server   the ground server's figures only (latency added, fan-out, archive rate)"
	@echo "make bench-web      the web console's figure only (HK at the server to the value painted in a browser)"
	@echo "make docs-screens   the console's SVG screens and the web console's screenshots for the docs"
	@echo "make hil      HIL scenarios (Robot Framework) against the simulated board"
	@echo "make hil-renode FIRMWARE=path   the same scenarios inside Renode"
	@echo "make flash PORT=/dev/ttyACM0 [KEYS=file]   install the application (and the key file's keys) on a board running MicroPython"
	@echo "make flash PORT=... TO_LITTLEFS=1   the same, converting /flash from FAT to littlefs first (records kept)"
	@echo "make flash-micropython FIRMWARE=path   write a MicroPython image (.dfu: dfu-util; build folder: st-flash)"
	@echo "make faults | fuzz N=... | soak MINUTES=... | wear   evidence campaigns"
	@echo "make explore  exhaustive exploration of the controller (figures to docs/RELIABILITY.md)"

venv: $(STAMP)

# The project itself goes in editable (no copy: the tree is what runs), so `ground` is on the
# venv's PATH: `. .venv/bin/activate`, then `ground --help`.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The web console's tests drive Debian's Chromium (Playwright, no browser download): installed if
# missing, as root or with sudo; if it cannot be, make stops here (the browser tests never skip).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2> /dev/null; then sudo=sudo; else \
	  echo "$(CHROMIUM) is missing: apt-get install chromium (as root)"; exit 2; fi; \
	set -x; $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
	@test -x $(CHROMIUM) || { echo "apt-get install chromium gave no $(CHROMIUM)"; exit 2; }

$(TYPINGS_STAMP): requirements-stubs.txt $(STAMP)
	rm -rf typings
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --target typings -r requirements-stubs.txt
	touch $@

# pytest and the HIL scenarios run side by side: both spend most of their time waiting on
# simulated boards in real time (each one's output comes whole, when it ends).
test: lint typecheck mpy-compile icd-check proc-check mptest
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest hil
	@echo "make test: all checks passed"

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(TYPINGS_STAMP)
	$(BIN)/pyright

mpy-compile: $(STAMP)
	@$(PY) -m ground.build build/mpy/firmware

# Whole modules per worker (their sims and servers are module fixtures); most tests wait on a
# simulated board in real time, so three workers fit two cores.
pytest: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest -n $(WORKERS) --dist loadfile

mptest: $(STAMP)
	$(BIN)/micropython -X heapsize=256k tests/mp_runner.py tests/firmware

# Everything derived from firmware/dictionary.py: the ICD, the firmware's compact tables, the XTCE export.
icd: $(STAMP)
	$(PY) -m ground.icd > docs/ICD.md
	$(PY) -m ground.tablegen > firmware/tables.py
	$(PY) -m ground xtce > docs/payload.xtce.xml

icd-check: $(STAMP)
	@$(PY) -m ground.icd | diff -u docs/ICD.md - > /dev/null || \
	  { echo "docs/ICD.md is stale: run 'make icd' and commit it"; exit 1; }
	@$(PY) -m ground.tablegen | diff -u firmware/tables.py - > /dev/null || \
	  { echo "firmware/tables.py is stale: run 'make icd' and commit it"; exit 1; }
	@$(PY) -m ground xtce | diff -u docs/payload.xtce.xml - > /dev/null || \
	  { echo "docs/payload.xtce.xml is stale: run 'make icd' and commit it"; exit 1; }

# Every shipped procedure, checked against the dictionary (ground proc check; docs/PROCEDURES.md).
proc-check: $(STAMP)
	@$(PY) -m ground proc check procedures/*.proc

# $(HIL_OUT)/archive.sqlite (hil/out): every frame and procedure run of this run only (ground replay, ground proc replay).
hil: $(STAMP)
	rm -f $(HIL_OUT)/archive.sqlite*
	$(BIN)/robot --variable TARGET:sim --exclude renode-only --outputdir $(HIL_OUT) hil/suites

# Renode's renode-test, with its own Python (Robot Framework as Renode pins it, plus
# hil/requirements-renode.txt): no .venv. It runs from $(HIL_OUT) because the portable and
# packaged renode-test append "-r $$(pwd)" after these arguments, and the last -r wins.
hil-renode:
	@command -v renode-test > /dev/null || { echo "renode-test not found: install Renode (see hil/README.md)"; exit 2; }
	@test -n "$(FIRMWARE)" || { echo "usage: make hil-renode FIRMWARE=path/to/firmware.elf"; exit 2; }
	@mkdir -p $(HIL_OUT)
	rm -f $(HIL_OUT)/archive.sqlite*
	cd $(HIL_OUT) && renode-test --variable TARGET:renode --variable FIRMWARE:$(abspath $(FIRMWARE)) \
	  -r $(abspath $(HIL_OUT)) $(abspath $(wildcard hil/suites/*.robot))

# bench prints the figures and fails on a host-independent miss; bench-report also writes
# docs/PERFORMANCE.md and its plot (make test and make bench never rewrite tracked files).
bench: $(STAMP) $(CHROMIUM)
	$(PY) -m tests.bench

bench-report: $(STAMP) $(CHROMIUM)
	$(PY) -m tests.bench --report

bench-server: $(STAMP)
	$(PY) -m tests.bench server

bench-web: $(STAMP) $(CHROMIUM)
	$(PY) -m tests.bench web

# Screens for the docs (never made by make test): the console at 80x24 and 120x40 (SVG, Textual's
# screenshot) and the web console in headless Chromium, both on the simulated board.
docs-screens: $(STAMP) $(CHROMIUM)
	$(PY) -m tests.screens

# The simulated board, a ground server on it with the web console, and the console on the server
# (more consoles, tools and browsers join at the addresses it prints).
run: $(STAMP)
	$(PY) -m sim --console

flash: $(STAMP)
	$(PY) -m ground.deploy --port $(PORT) $(if $(TO_LITTLEFS),--to-littlefs) $(if $(KEYS),--keys $(KEYS))

flash-micropython: $(STAMP)
	@test -n "$(FIRMWARE)" || { echo "usage: make flash-micropython FIRMWARE=firmware.dfu|build-NUCLEO_F429ZI"; exit 2; }
	$(PY) -m ground.deploy --write-image $(FIRMWARE)

faults: $(STAMP)
	$(PY) -m tests.campaign faults

fuzz: $(STAMP)
	$(PY) -m tests.campaign fuzz --count $(N)

soak: $(STAMP)
	$(PY) -m tests.campaign soak --minutes $(MINUTES)

wear: $(STAMP)
	$(PY) -m tests.campaign wear

explore: $(STAMP)
	$(PY) -m tests.explore --report

clean:
	rm -rf build hil/out .pytest_cache .ruff_cache
