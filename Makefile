# Two commands for readers (see README):  make book   and   make test
# Everything runs in a local virtual environment (.venv) that the first command creates.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Stored notebook outputs must be deterministic: no progress bars when executed by tools.
export MLPCORE_QUIET := 1
# Claims (mlpcore.claims) raise when the book is executed or tested, also in the notebook
# edition, whose first cell asks for warnings (this variable overrides it); `make
# replicate` records.
export MLPCORE_CLAIMS := strict

.PHONY: book test unit-and-notebooks notebooks build-strict execute install clean student grade linkcheck bench screenshots replicate replicate-ci replicate-report

# The HTML book in _build/html, and the notebook edition (Jupyter/Colab) in _build/edition;
# the Chinese book in _build/html/zh and its edition in _build/edition-zh, from the English
# sources and the catalogues in locale/ (booktools/i18n_build.py, locale/README.md).
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going
	$(PY) -m booktools.i18n build
	@echo
	@echo "The book is in _build/html. Open: file://$(CURDIR)/_build/html/index.html"
	@echo "The notebook edition (for Jupyter and Colab) is in _build/edition."
	@echo "中文版: file://$(CURDIR)/_build/html/zh/index.html (notebooks: _build/edition-zh)"

# Every test: the book build with warnings as errors, then unit, parity, grading and notebook
# (nbval) tests, then one replication of every chapter on a seed that is not the book's.
test: build-strict unit-and-notebooks replicate-ci

build-strict: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) -m booktools.i18n build --strict

# The tests run one worker per core, so each process (and each notebook kernel it starts) gets
# one BLAS thread: with OpenBLAS's default of one thread per core, two workers' small matrix
# products wait on each other's spinning threads (nbval over the edition: 210 s -> 97 s on
# 2 cores). Not exported: `make bench` measures the library at its default threads.
ONE_BLAS_THREAD = OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# nbval runs the notebook edition, which the build just made: tests/book/test_edition.py proves
# its code cells and stored outputs are the book's, cell for cell, so one run checks both
# (a failure at _build/edition/book/X.ipynb::Cell N is code cell N of book/X.ipynb, counting
# from 0; the edition's extra cells, the revealed solutions, are Markdown).
# Test files run one per core (pytest-xdist; --dist loadfile keeps a file's module fixtures,
# such as a built student edition, in one worker).
unit-and-notebooks: $(STAMP)
	$(ONE_BLAS_THREAD) $(PY) -m pytest -n auto --dist loadfile tests
	$(NBVAL)

# Full-page screenshots of every page of both books in _build/screenshots/, to look at (the
# browser tests take them only when asked: they check nothing and cost a third of the time).
screenshots: $(STAMP)
	MLPCORE_SCREENSHOTS=1 $(ONE_BLAS_THREAD) $(PY) -m pytest -n auto --dist loadfile tests/book/test_browser.py tests/book/test_browser_zh.py

# nbval alone, over the edition the last build made (.ci/run repeats it with NumPy's wider
# SIMD switched off: NPY_DISABLE_CPU_FEATURES).
notebooks: $(STAMP)
	$(NBVAL)

# One worker per core, each taking whole notebooks (--dist loadscope keeps a notebook's cells
# in order in one kernel).
NBVAL = $(ONE_BLAS_THREAD) $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/book/nbval_sanitize.cfg \
        -n auto --dist loadscope _build/edition/book

# Re-execute every chapter in place (after changing code or text that affects outputs).
execute: $(STAMP)
	$(PY) -m booktools execute book/*.ipynb

# Re-run chapters on other seeds and check every claim there (booktools/replicate.py):
#   make replicate SEED=7 [CHAPTERS="01 02"]   -> _build/replicate/7/report.json
replicate: $(STAMP)
	@test -n "$(SEED)" || { echo "usage: make replicate SEED=<int> [CHAPTERS=\"01 02\"]"; exit 2; }
	$(PY) -m booktools replicate run --seed $(SEED) $(if $(CHAPTERS),--chapters $(CHAPTERS))

# The one replication `make test` runs. Any seed would do (none is the book's own draws);
# it is fixed so that a red CI can be rerun exactly.
CI_REPLICATION_SEED := 2027
replicate-ci: $(STAMP)
	$(PY) -m booktools replicate run --seed $(CI_REPLICATION_SEED)

# The robustness appendix's data: every chapter over the report seeds (book/replication/).
replicate-report: $(STAMP)
	$(PY) -m booktools replicate report $(if $(SEEDS),--seeds $(SEEDS)) $(if $(CHAPTERS),--chapters $(CHAPTERS))

# Student edition of every chapter in student/, from the notebook edition (so the book is
# built first): numbers written out, solutions replaced by stubs (docs/grading.md).
student: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going --quiet
	$(PY) -m booktools student-edition --out student _build/edition/book/*.ipynb
	$(PY) -m booktools.i18n build
	$(PY) -m booktools student-edition --out student-zh _build/edition-zh/book/*.ipynb

# Grade submissions, each exercise in a bubblewrap sandbox (docs/grading.md):
#   make grade SUBMISSIONS=path/to/folder [CHAPTER=ch02] [REPORT=report.json] [SHARD=K/N]
# The grader exits 1 when some submission is below full points; for make that is a
# completed grading (status 0, the table says who), and only a refusal or crash fails.
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path [CHAPTER=chNN] [REPORT=report.json] [SHARD=K/N]"; exit 2; }
	@$(PY) -m pytest grading --submissions "$(SUBMISSIONS)" $(if $(CHAPTER),--chapter "$(CHAPTER)") $(if $(REPORT),--report "$(REPORT)") $(if $(SHARD),--shard "$(SHARD)"); \
	status=$$?; \
	if [ $$status -eq 1 ]; then echo "grading complete; some submissions are below full points (see the table)"; exit 0; fi; \
	exit $$status

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
