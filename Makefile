# Two commands for readers (see README):  make book   and   make test
# Everything runs in a local virtual environment (.venv) that the first command creates.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Stored notebook outputs must be deterministic: no progress bars when executed by tools.
export MLPCORE_QUIET := 1
# Claim guards stop the run when a sentence of the text no longer holds, also in the
# notebook edition, whose first cell asks for warnings (this variable overrides it).
export MLPCORE_CLAIMS := strict

.PHONY: book test unit-and-notebooks build-strict execute install clean student grade linkcheck bench

# The HTML book in _build/html, and the notebook edition (Jupyter/Colab) in _build/edition.
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going
	@echo
	@echo "The book is in _build/html. Open: file://$(CURDIR)/_build/html/index.html"
	@echo "The notebook edition (for Jupyter and Colab) is in _build/edition."

# Every test: the book build with warnings as errors, then unit, parity, grading and notebook (nbval) tests.
test: build-strict unit-and-notebooks

build-strict: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

# nbval runs the notebook edition, which the build just made: tests/test_edition.py proves
# its code cells and stored outputs are the book's, cell for cell, so one run checks both
# (a failure at _build/edition/book/X.ipynb::Cell N is cell N of book/X.ipynb).
unit-and-notebooks: $(STAMP)
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg _build/edition/book

# Re-execute every chapter in place (after changing code or text that affects outputs).
execute: $(STAMP)
	$(PY) tools/execute_notebooks.py book/*.ipynb

# Student edition of every chapter in student/, from the notebook edition (so the book is
# built first): numbers written out, solutions replaced by stubs (docs/grading.md).
student: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going --quiet
	$(PY) tools/make_student_edition.py --out student _build/edition/book/*.ipynb

# Grade submissions, each exercise in a bubblewrap sandbox (docs/grading.md):
#   make grade SUBMISSIONS=path/to/folder [REPORT=report.json] [SHARD=K/N]
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path [REPORT=report.json] [SHARD=K/N]"; exit 2; }
	$(PY) -m pytest grading --submissions "$(SUBMISSIONS)" $(if $(REPORT),--report "$(REPORT)") $(if $(SHARD),--shard "$(SHARD)")

install: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

# External links (papers, repository) need the network, so this is not part of `make test`
# or CI; internal references are checked by the strict build (-W -n) that `make test` runs.
linkcheck: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder linkcheck

# Speed of a training step, mlpcore vs PyTorch vs pure GEMM (docs/speed.md); not a test.
# PyTorch's column is skipped if torch is not installed. Options: make bench ARGS=--quick
bench: $(STAMP)
	$(PY) benchmarks/bench_step.py $(ARGS)

clean:
	rm -rf _build
