"""The kernel nbgrader grades the book's notebooks with: ``mlpgrader kernel COURSE``.

nbgrader runs each submission on a Jupyter kernel. Left to itself it takes the kernel
named in the notebook ("python3"), which on an instructor's machine is usually
nbgrader's own Python, without mlpcore: every check cell then fails on its import and
every student, the reference included, gets 0, with no error. So this writes

- ``COURSE/jupyter/kernels/mlpcore/kernel.json``: a kernel that runs this Python (the
  book's .venv, with mlpcore and matplotlib) through ``python -m
  mlpgrader.nbgrader_kernel``, which imports mlpcore and matplotlib before it starts
  ipykernel and exits with the reason if either is missing (nbgrader then reports the
  submission as failed, and ``nbgrader autograde`` exits non-zero);
- ``COURSE/nbgrader_config.py`` (unless one exists, then it prints the lines to add):
  ``c.Execute.kernel_name = "mlpcore"``, so that nbgrader uses that kernel whatever the
  notebook says, and stops with "No such kernel" where ``JUPYTER_PATH`` does not lead
  to it; and ``c.Execute.timeout = 600`` (seconds per cell; nbgrader's 30 s interrupts
  a chapter's experiments on a loaded machine, silently).

docs/grading.md ("nbgrader") has the whole recipe; tests/grader/test_grading_nbgrader.py runs it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL = "mlpcore"
CONFIG_LINE = f'c.Execute.kernel_name = "{KERNEL}"'
# nbgrader interrupts a cell after 30 s by default and still exits 0; a chapter's
# experiment cells can take that long on a loaded machine, so allow 10 minutes a cell.
TIMEOUT_LINE = "c.Execute.timeout = 600"


def install(course: str) -> int:
    root = Path(course)
    folder = root / "jupyter" / "kernels" / KERNEL
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "mlpgrader.nbgrader_kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (mlpcore)", "language": "python",
            "env": {"MPLBACKEND": "Agg", "MLPCORE_QUIET": "1"}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    print(f"kernel {KERNEL!r} ({sys.executable}) written to {folder}")
    config = root / "nbgrader_config.py"
    if not config.exists():
        config.write_text(f"c = get_config()  # noqa: F821\n{CONFIG_LINE}\n{TIMEOUT_LINE}\n",
                          encoding="utf-8")
        print(f"{config} written: nbgrader runs every notebook on kernel {KERNEL!r}")
    else:
        text = config.read_text(encoding="utf-8")
        for line in (CONFIG_LINE, TIMEOUT_LINE):
            if line not in text:
                print(f"{config} exists: add the line  {line}")
    print(f"run nbgrader with JUPYTER_PATH={root / 'jupyter'}")
    return 0


def launch() -> None:
    """The kernel itself: refuse to start without what the book's notebooks import."""
    try:
        import matplotlib  # noqa: F401
        import mlpcore.exercises  # noqa: F401
    except ImportError as exc:
        sys.exit(f"mlpcore kernel: cannot start, {exc} in {sys.executable}; grade with the "
                 f"book's .venv (mlpgrader kernel COURSE, run from it)")
    from ipykernel.kernelapp import launch_new_instance
    launch_new_instance()


if __name__ == "__main__":
    launch()
