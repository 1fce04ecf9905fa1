"""Re-run the chapters on seeds they were not written on, and check every claim there.

    python -m booktools replicate run --seed 7 [--chapters 01 02] [--jobs 2]
    python -m booktools replicate report [--seeds 1-10] [--chapters 01]
    python -m booktools replicate page

``run`` executes each chapter in a fresh kernel with a *replication seed* S and every claim
in "record" mode (``mlpcore.claims``), without comparing stored outputs, and writes
``_build/replicate/<S>/report.json``:

    {"seed": S, "chapters": {"01_weight_decay": {"seconds": s, "hash": h,
        "claims": [{"id", "cell", "text", "passed", "detail"}], "glued": {name: value}}}}

Its last line is ``replicate S: C claims, F failed``; the exit status is 1 when F > 0. A
cell that raises counts as a failed claim (id ``cell-<index>-raised``).

The mapping from S to a chapter's draws: every random draw in the book comes from
``np.random.default_rng(n)`` with an integer n (initial weights, batch order, dropout
masks, label noise, subsets, synthetic data, the data split). Under replication seed S,
``default_rng(n)`` returns ``default_rng(SeedSequence([S, n]))``: each experiment keeps
its own independent stream, as in the book, but a different one. A two-word entropy
``[S, n]`` is never the one-word ``n`` of the book, so the book's own draws are never
among the replications, whatever S is.

``report`` runs (or reuses, when the chapter's code is unchanged) the replications for
the report seeds and writes ``book/replication/<chapter>.json``: every claim's pass rate
and the headline numbers' spread (the glue names listed in the chapter notebook's
``metadata.replication.headlines``), with the hash of the chapter's code cells; the
robustness appendix (``book/robustness.ipynb``) is built from those files, and a test
fails when a chapter's code changed after its file was made.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import numpy as np

from booktools.glued import glued_outputs, plain_value

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
OUT = ROOT / "_build" / "replicate"
DATA = BOOK / "replication"
REPORT_SEEDS = tuple(range(1, 11))
"""The replication seeds of the robustness appendix."""

MARKER = "REPLICATION-RESULT "

_SETUP = '''\
# make replicate: every integer seed n of np.random.default_rng becomes [{seed}, n]
# One BLAS thread, as the chapters' own first cell asks; it must come before NumPy is
# imported (below), or two chapters run side by side oversubscribe the cores.
import os as _os
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_variable, "1")
import json as _json
import numpy as _np
from mlpcore import claims as _claims

_claims.set_mode("record")
_book_default_rng = _np.random.default_rng


def _replicated_default_rng(seed=None):
    if isinstance(seed, (int, _np.integer)) and not isinstance(seed, bool):
        seed = _np.random.SeedSequence([{seed}, int(seed)])
    elif seed is None:
        raise ValueError("make replicate: np.random.default_rng() without a seed is not "
                         "reproducible; every draw in the book must be seeded")
    return _book_default_rng(seed)


_np.random.default_rng = _replicated_default_rng
_claims.claim(True, "replication set-up")  # tells the runner how IPython counts cells
'''

_COLLECT = f'''\
print({MARKER!r} + _json.dumps({{"claims": _claims.records(), "glued": _claims.glued()}},
                               default=str))
'''


def chapter_paths(chapters: list[str] | None) -> list[Path]:
    """The chapter notebooks, all of them or those whose names start with the given numbers."""
    paths = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    if chapters:
        paths = [path for path in paths if any(path.name.startswith(c) for c in chapters)]
        if not paths:
            raise SystemExit(f"replicate: no chapter matches {chapters}")
    return paths


EXERCISE_TAGS = {"exercise", "exercise-check"}


def code_hash(path: Path) -> str:
    """sha256 of the chapter's code cells that make its claims: after the install cell,
    without the exercises (their cells, solutions and checks, make no claim)."""
    nb = nbformat.read(path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"
            and not EXERCISE_TAGS & set(cell.metadata.get("tags", []))
            and "### BEGIN SOLUTION" not in cell.source][1:]
    return hashlib.sha256("\n\x00\n".join(code).encode()).hexdigest()[:16]


def run_chapter(path: Path, seed: int) -> dict:
    """Execute one chapter under a replication seed; its claims, glued values and seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.insert(0, nbformat.v4.new_code_cell(_SETUP.format(seed=int(seed))))
    nb.cells.append(nbformat.v4.new_code_cell(_COLLECT))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start

    index_of_count = {}
    raised = []
    for index, cell in enumerate(nb.cells[1:-1]):
        if cell.cell_type != "code":
            continue
        index_of_count[cell.execution_count] = index
        for output in cell.outputs:
            if output.output_type == "error":
                raised.append({"id": f"cell-{index}-raised", "cell": index,
                               "text": f"cell {index} runs without an error",
                               "passed": False,
                               "detail": {"error": f"{output.ename}: {output.evalue}"[:500]}})
    result = {"claims": [], "glued": {}}
    for output in nb.cells[-1].outputs:
        text = output.get("text", "")
        if output.output_type == "stream" and MARKER in text:
            result = json.loads(text.split(MARKER, 1)[1])
    setup, claims = result["claims"][:1], result["claims"][1:]
    # IPython may number a cell from inside it one ahead of the count it stores
    offset = (setup[0]["cell"] - nb.cells[0].execution_count) if setup and setup[0]["cell"] else 0
    for record in claims:
        count = record["cell"]
        record["cell"] = index_of_count.get(count - offset) if count is not None else None
    return {"seconds": round(seconds, 1), "hash": code_hash(path),
            "claims": claims + raised, "glued": result["glued"]}


def _run_one(args: tuple[str, int]) -> tuple[str, dict]:
    path, seed = Path(args[0]), args[1]
    return path.stem, run_chapter(path, seed)


def _pool_run(jobs_list: list[tuple[str, int]], jobs: int) -> list[tuple[str, dict]]:
    """Run (chapter, seed) jobs, `jobs` at a time; each result is saved as soon as it is in,
    so an interrupted report keeps the seeds already done."""
    os.environ["MLPCORE_QUIET"] = "1"
    os.environ["MLPCORE_CLAIMS"] = "record"
    results = {}
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(jobs_list)))) as pool:
        futures = {pool.submit(_run_one, job): job for job in jobs_list}
        for future in as_completed(futures):
            name, result = future.result()
            seed = futures[future][1]
            save(seed, {name: result})
            results[futures[future]] = (name, result)
    return [results[job] for job in jobs_list]


def save(seed: int, chapters: dict) -> None:
    """Add chapter results to _build/replicate/<seed>/report.json (kept across runs)."""
    out = OUT / str(seed) / "report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {"chapters": {}}
    merged = {"seed": seed, "chapters": {**previous.get("chapters", {}), **chapters}}
    out.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")


def replicate(seed: int, chapters: list[str] | None, jobs: int) -> dict:
    """Run the chosen chapters under one replication seed; write and return the report."""
    paths = chapter_paths(chapters)
    results = dict(_pool_run([(str(path), seed) for path in paths], jobs))
    return {"seed": seed, "chapters": {path.stem: results[path.stem] for path in paths}}


def summarise(report: dict) -> tuple[int, int]:
    claims = [c for chapter in report["chapters"].values() for c in chapter["claims"]]
    return len(claims), sum(not c["passed"] for c in claims)


def print_failures(report: dict) -> None:
    for name, chapter in report["chapters"].items():
        for record in chapter["claims"]:
            if not record["passed"]:
                print(f"  FAILED {name} cell {record['cell']}: {record['text']} "
                      f"{json.dumps(record['detail'], default=str)[:300]}")
        print(f"  {name}: {len(chapter['claims'])} claims in {chapter['seconds']} s")


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high) + 1)) if high else [int(low)]
    return seeds


def runs_over_seeds(path: Path, seeds: list[int], jobs: int) -> dict[int, dict]:
    """Each seed's result for one chapter, reused when the chapter's code is unchanged."""
    runs, missing = {}, []
    for seed in seeds:
        saved = OUT / str(seed) / "report.json"
        chapter = (json.loads(saved.read_text())["chapters"].get(path.stem)
                   if saved.exists() else None)
        if chapter and chapter.get("hash") == code_hash(path):
            runs[seed] = chapter
        else:
            missing.append(seed)
    fresh = _pool_run([(str(path), seed) for seed in missing], jobs) if missing else []
    for seed, (_, result) in zip(missing, fresh):
        runs[seed] = result
    return {seed: runs[seed] for seed in seeds}


def _number(value):
    """A glued value as a float where it reads as one ("+4.0", "1,079", "3e-3")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", "").replace("+", "").replace("%", "").strip())
    except ValueError:
        return None


def write_chapter_data(path: Path, seeds: list[int], jobs: int) -> Path:
    """book/replication/<chapter>.json: claims' pass rates and headline numbers over seeds."""
    runs = runs_over_seeds(path, seeds, jobs)
    nb = nbformat.read(path, as_version=4)
    headlines = nb.metadata.get("replication", {}).get("headlines", [])
    book_values = _book_glued(nb)
    claims: dict[str, dict] = {}
    for seed, run in runs.items():
        for record in run["claims"]:
            entry = claims.setdefault(record["id"], {"id": record["id"], "text": record["text"],
                                                     "cell": record["cell"], "runs": 0,
                                                     "passed": 0, "failed_seeds": []})
            entry["runs"] += 1
            entry["passed"] += bool(record["passed"])
            if not record["passed"]:
                entry["failed_seeds"].append(seed)
    data = {"chapter": path.stem, "hash": code_hash(path), "seeds": seeds,
            "seconds": {str(seed): run["seconds"] for seed, run in runs.items()},
            "claims": list(claims.values()),
            "headlines": {name: {"book": _number(book_values.get(name)),
                                 "seeds": [_number(run["glued"].get(name)) for run in runs.values()]}
                          for name in headlines}}
    DATA.mkdir(exist_ok=True)
    out = DATA / f"{path.stem}.json"
    out.write_text(json.dumps(data, indent=1) + "\n")
    return out


def _book_glued(nb) -> dict:
    """The values the book itself glues, read from the stored outputs."""
    return {name: plain_value(bundle) for name, bundle, _ in glued_outputs(nb.cells)}


# ---------------------------------------------------------------- the robustness appendix

PAGE = BOOK / "robustness.md"


def _headline_labels(path: Path) -> dict[str, str]:
    """The chapter's headline glue names and their labels (metadata.replication.headlines:
    a list of names, or a mapping name -> label)."""
    headlines = nbformat.read(path, as_version=4).metadata.get("replication", {}).get("headlines", [])
    return dict(headlines) if isinstance(headlines, dict) else {name: name for name in headlines}


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _chapter_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _plotted(data: dict, labels: dict) -> list[str]:
    return [name for name in labels
            if any(v is not None for v in data["headlines"].get(name, {}).get("seeds", []))]


def _figure(data: dict, labels: dict, out: Path) -> None:
    """One panel per headline number: each seed's value as a dot, the book's as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = _plotted(data, labels)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 1.9 * rows), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes.flat, names):
        entry = data["headlines"][name]
        values = [v for v in entry["seeds"] if v is not None]
        ax.plot(values, np.zeros(len(values)) + np.linspace(-0.15, 0.15, len(values)), "o",
                alpha=0.7, label="replications")
        if entry["book"] is not None:
            ax.axvline(entry["book"], color="C3", label="the book's run")
        ax.set_title(labels[name], fontsize=10)
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.tick_params(labelsize=9)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="upper left", frameon=False)
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_page(paths: list[Path]) -> Path:
    """book/robustness.md and its figures, from the committed data."""
    text, figures = render_page(paths)
    for data, labels, out in figures:
        _figure(data, labels, out)
    PAGE.write_text(text, encoding="utf-8")
    return PAGE


def render_page(paths: list[Path]) -> tuple[str, list]:
    """The appendix's text from book/replication/*.json, and the figures it shows."""
    figures = []
    lines = ["# How robust are these numbers?", "",
             "Every number in this book comes from one run of each experiment, on the seeds the",
             "chapter fixes. A sentence that holds only for those draws would be overfitted to",
             "them, the very thing this book warns about. So each chapter was re-run on ten",
             f"other *replication seeds* ({', '.join(map(str, REPORT_SEEDS))}): under replication",
             "seed S, every `np.random.default_rng(n)` in a chapter draws from",
             "`SeedSequence([S, n])` instead of from `n`, so the initial weights, the batch",
             "order, the dropout masks, the label noise, the training subsets and the data",
             "split all change, and none of the book's own draws recurs. Every claim (each",
             "guarded sentence of the text) was checked on every replication.",
             "",
             "To re-run one replication yourself: `make replicate SEED=7` (or",
             "`make replicate SEED=7 CHAPTERS=\"01\"`); it prints each claim that fails and",
             "ends with `replicate 7: C claims, F failed`. `make replicate-report` rebuilds this",
             "page. `make test` runs one further replication, on a seed named nowhere else.", ""]
    for path in paths:
        data_path = DATA / f"{path.stem}.json"
        if not data_path.exists():
            lines += [f"## {_chapter_title(path)}", "", "Not replicated yet.", ""]
            continue
        data = json.loads(data_path.read_text())
        labels = _headline_labels(path)
        claims = data["claims"]
        runs = len(data["seeds"])
        held = sum(c["passed"] == c["runs"] == runs for c in claims)
        lines += [f"## {_chapter_title(path)}", "",
                  f"{len(claims)} claims; {held} of them held on all {runs} replication seeds."]
        failing = [c for c in claims if c["passed"] < c["runs"]]
        if failing:
            lines += ["", "Claims that failed on some seed:", ""]
            lines += [f"- {c['text']} (cell {c['cell']}): held on {c['passed']} of {c['runs']}"
                      for c in failing]
        if labels:
            lines += ["", "The headline numbers, in the book and over the replications:", "",
                      "| number | the book | lowest | median | highest |",
                      "|---|---|---|---|---|"]
            for name, label in labels.items():
                entry = data["headlines"].get(name, {"book": None, "seeds": []})
                values = sorted(v for v in entry["seeds"] if v is not None)
                spread = ([_fmt(values[0]), _fmt(float(np.median(values))), _fmt(values[-1])]
                          if values else ["–"] * 3)
                lines.append(f"| {label} | {_fmt(entry['book'])} | " + " | ".join(spread) + " |")
            figure = DATA / f"{path.stem}.png"
            if _plotted(data, labels):
                figures.append((data, labels, figure))
                lines += ["", f"```{{figure}} replication/{figure.name}",
                          f":alt: One panel per headline number of {_chapter_title(path)}: a dot "
                          "for each replication seed and a line at the book's value.",
                          "", "Each dot is one replication seed; the line is the book's run.",
                          "```"]
        lines += ["", "```{dropdown} Every claim and its pass rate", "",
                  "| cell | claim | held |", "|---|---|---|"]
        lines += [f"| {c['cell']} | {c['text'].replace('|', '/')} | {c['passed']}/{c['runs']} |"
                  for c in claims]
        lines += ["```", ""]
    return "\n".join(lines).rstrip() + "\n", figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools replicate",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one replication seed")
    run.add_argument("--seed", type=int, required=True)
    run.add_argument("--chapters", nargs="*", default=None)
    run.add_argument("--jobs", type=int, default=2)
    rep = sub.add_parser("report", help="the appendix data over the report seeds")
    rep.add_argument("--seeds", default=f"{REPORT_SEEDS[0]}-{REPORT_SEEDS[-1]}")
    rep.add_argument("--chapters", nargs="*", default=None)
    rep.add_argument("--jobs", type=int, default=2)
    sub.add_parser("page", help="only rewrite the appendix page from book/replication/*.json "
                                "(after merging chapters' data made elsewhere)")
    args = parser.parse_args(argv)
    if args.command == "page":
        print(f"{write_page(chapter_paths(None)).relative_to(ROOT)} written")
        return 0
    if args.command == "run":
        report = replicate(args.seed, args.chapters, args.jobs)
        print_failures(report)
        count, failed = summarise(report)
        print(f"replicate {args.seed}: {count} claims, {failed} failed")
        return 1 if failed else 0
    for path in chapter_paths(args.chapters):
        out = write_chapter_data(path, parse_seeds(args.seeds), args.jobs)
        data = json.loads(out.read_text())
        failing = [c for c in data["claims"] if c["passed"] < c["runs"]]
        print(f"{out.relative_to(ROOT)}: {len(data['claims'])} claims, "
              f"{len(failing)} fail on some seed")
        for entry in failing:
            print(f"  {entry['passed']}/{entry['runs']} cell {entry['cell']}: {entry['text']}")
    print(f"{write_page(chapter_paths(None)).relative_to(ROOT)} written")
    return 0

