# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   installs into .venv and analyses a committed sample video
#   make test   installs into .venv (with the test extra) and runs the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SAMPLE ?= samples/hfs_left_eye.mp4

.PHONY: demo test install benchmark samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/spasmscan analyze $(SAMPLE)

test: install
	$(BIN)/python -m pytest -q tests

benchmark: install
	$(BIN)/python benchmarks/run.py

samples: install
	$(BIN)/python samples/make_samples.py

clean:
	rm -rf $(VENV) build *.egg-info
