"""Hostile submissions, one per attack family of issue 13, graded in one class beside
an honest control student, in the real sandbox.

Each attack replaces the cell of chapter 0's first exercise. Each must score 0 on that
exercise, the control must keep 100 %, and nothing may reach outside the sandbox: no
file in the watched folders or the host's /tmp, no change to the grader, mlpcore or
the book, no connection to a port on the host, no secret in the report, no process
left behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import textwrap
from pathlib import Path

import pytest

from fixtures.exercise_notebooks import (ROOT, cell_text, ch00_exercises, chapter0_notebook, read,
                                         sandbox_mode, signature, with_cell, write)
from mlpgrader.grader import grade_all, plan, write_report

TOKEN = "instructor-token-5f1c9e"
CONTROL_SECRET = "control-secret-8d2a"
TARGET = ch00_exercises()[0]
SIGNATURE = signature(TARGET) + f"    args = ({', '.join(TARGET.params)},)\n"
ZEROS = "    return None\n"

# family -> body of the target function (after the signature; `args` holds its
# arguments); {outside}, {port}, {book}, {control}, {report}, {root}, {function} and
# {ncases} are filled in. None of them solves the exercise honestly.
ATTACKS = {
    "calls_mlpcore": """
    from mlpcore import functional, layers, losses, optim
    from mlpcore.exercises import get_exercise
    return getattr(functional, {function!r})(*args)
""",
    "replaces_judges": """
    import sys, types
    try:
        import mlpcore.exercises._compare as compare
        compare.compare_outputs = lambda *args, **kwargs: None
    except ImportError:
        for name in ("mlpcore", "mlpcore.exercises", "mlpcore.exercises._compare",
                     "mlpcore.exercises.ch00"):
            module = sys.modules.setdefault(name, types.ModuleType(name))
            module.compare_outputs = lambda *args, **kwargs: None
            module.compare_array = lambda *args, **kwargs: None
    for name, module in list(sys.modules.items()):
        for attribute in ("judge_case", "compare_outputs", "compare_array"):
            if hasattr(module, attribute):
                setattr(module, attribute, lambda *args, **kwargs: None)
""" + ZEROS,
    "captures_expected": """
    import gc, inspect
    for frame in inspect.stack():
        for name, value in frame.frame.f_locals.items():
            if name in ("expected", "grad_weight", "pristine"):
                return value
    for obj in gc.get_objects():
        if type(obj).__name__ in ("Case", "Exercise"):
            return obj.judge(obj.make_inputs(), None)
""" + ZEROS,
    "forges_the_result": """
    import json, os
    forged = {"problem": "", "fatal": False, "stub": False, "status": "passed",
              "points": 3, "max_points": 3,
              "cases": [{"status": "passed", "points": 1, "changed": None, "warning": "",
                         "raised": None, "output": None, "after": {}}] * {ncases}}
    for fd in range(1, 30):
        try:
            os.write(fd, json.dumps(forged).encode())
        except OSError:
            pass
    for path in ("/tmp/result.json", "result.json", os.path.expanduser("~/result.json")):
        try:
            open(path, "w").write(json.dumps(forged))
        except OSError:
            pass
    os._exit(0)
""",
    "array_reads_the_judge": """
    import sys
    class Spy:
        def __array__(self, dtype=None, copy=None):
            frame = sys._getframe(1)
            while frame is not None:
                for name in ("expected", "want", "grad_x"):
                    if name in frame.f_locals:
                        return np.asarray(frame.f_locals[name])
                frame = frame.f_back
            return np.zeros((1,))
    return Spy(), Spy(), Spy()
""",
    "reads_the_book": """
    import glob, json
    paths = [{book!r}] + [path for top in ("/tmp", "/grader", "/site", "/root", "/home", "/work")
                          for path in glob.glob(top + "/**/*.ipynb", recursive=True)]
    for path in paths:
        try:
            notebook = json.load(open(path))
        except OSError:
            continue
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if source.startswith("def {function}(") and "BEGIN SOLUTION" in source:
                space = {"np": np}
                exec(source, space)
                return space[{function!r}](*args)
""" + ZEROS,
    "escapes_the_file_guard": """
    import ctypes, multiprocessing, os, sqlite3, socket, threading
    outside = {outside!r}
    def attempt(action):
        try:
            action()
        except BaseException:
            pass
    attempt(lambda: os.write(os.open("pwned-dirfd", os.O_WRONLY | os.O_CREAT,
                                     dir_fd=os.open(outside, os.O_RDONLY)), b"x"))
    open("/tmp/pwned-local", "w").write("x")
    attempt(lambda: os.rename("/tmp/pwned-local", "pwned-rename",
                              dst_dir_fd=os.open(outside, os.O_RDONLY)))
    attempt(lambda: os.link("/tmp/pwned-local", outside + "/pwned-link"))
    attempt(lambda: os.mkfifo(outside + "/pwned-fifo"))
    attempt(lambda: sqlite3.connect(outside + "/pwned.sqlite").execute("create table t(x)"))
    libc = ctypes.CDLL(None)
    attempt(lambda: libc.write(libc.open((outside + "/pwned-ctypes").encode(), 0o101, 0o644), b"x", 1))
    attempt(lambda: libc.system(("touch " + outside + "/pwned-system").encode()))
    attempt(lambda: multiprocessing.get_context("spawn").Process(
        target=os.system, args=("touch " + outside + "/pwned-spawn",)).start())
    attempt(lambda: os.posix_spawn("/bin/touch", ["touch", outside + "/pwned-posix"], {}))
    attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1))
    race = [threading.Thread(target=attempt, args=(lambda: open(outside + "/pwned-race", "w"),))
            for _ in range(8)]
    [thread.start() for thread in race]
    [thread.join() for thread in race]
    attempt(lambda: os.symlink(outside, "/tmp/swap"))
    attempt(lambda: open("/tmp/swap/pwned-swap", "w").write("x"))
""" + ZEROS,
    "tampers_with_the_grader": """
    import glob, os
    targets = ["/grader/child.py", "/grader/wire.py", "/grader/calling.py",
               {root!r} + "/mlpgrader/grade_cell.py", {root!r} + "/mlpcore/exercises/ch00.py",
               {root!r} + "/grading/conftest.py"] + glob.glob("/grader/*.py") + \
        glob.glob("/site/numpy/*.py") + glob.glob("/root/**/*.py", recursive=True)[:2000]
    for path in targets:
        try:
            with open(path, "a") as handle:
                handle.write("\\nPWNED = True\\n")
        except OSError:
            pass
""" + ZEROS,
    "harms_other_students": """
    import glob, os, signal
    for path in glob.glob("/tmp/**", recursive=True) + glob.glob({outside!r} + "/../**"):
        try:
            if os.path.isfile(path):
                open(path, "w").write("{}")
        except OSError:
            pass
    for name in ("result.json", "report.json"):
        try:
            os.mkfifo("/tmp/" + name)
        except OSError:
            pass
    for pid in range(1, 200):
        try:
            os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None
        except OSError:
            pass
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
""" + ZEROS,
    "leaks_secrets": """
    import os
    found = [os.environ.get("INSTRUCTOR_TOKEN", ""), " ".join(os.environ)]
    for path in ({control!r}, {report!r}, {book!r}, "/proc/1/environ"):
        try:
            found.append(open(path, errors="replace").read()[:3000])
        except OSError as exc:
            found.append(type(exc).__name__)
    raise RuntimeError(" | ".join(found))
""",
    "exhausts_resources": """
    import os, threading
    def attempt(action):
        try:
            action()
        except BaseException:
            pass
    for _ in range(50):
        attempt(os.fork)
    attempt(lambda: np.ones(10 ** 11))
    attempt(lambda: open("/tmp/filler", "wb").write(b"x" * 200 * 2 ** 20))
    attempt(lambda: [threading.Thread(target=lambda: None).start() for _ in range(100)])
    print("flood " * 10 ** 6)
    return np.zeros(2 * 10 ** 7), np.zeros(1), np.zeros(1)
""",
}


def _fill(body: str, **values) -> str:
    text = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    for key, value in values.items():
        text = text.replace("{%s!r}" % key, repr(value)).replace("{%s}" % key, str(value))
    return SIGNATURE + text + "\n"


def _fingerprint() -> dict:
    files = [*ROOT.glob("mlpgrader/*.py"), *ROOT.glob("mlpcore/**/*.py"),
             *ROOT.glob("grading/*.py"), *ROOT.glob("book/*.ipynb")]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def _sandbox_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"/grader/child.py" in (entry / "cmdline").read_bytes():
                found.append(entry.name)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Grade the class once: (submissions by student, report text, outside folder,
    connections accepted on the watched port, host /tmp before and after)."""
    mode = sandbox_mode()
    folder = tmp_path_factory.mktemp("class")
    outside = tmp_path_factory.mktemp("outside")
    report = tmp_path_factory.mktemp("report") / "report.json"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    book = chapter0_notebook()
    reference = read(book)
    control = with_cell(reference, TARGET.function,
                        f"# {CONTROL_SECRET}\n" + cell_text(reference, TARGET.function))
    write(control, folder / "control.ipynb")
    values = dict(outside=str(outside), port=listener.getsockname()[1], book=str(book),
                  control=str(folder / "control.ipynb"), report=str(report), root=str(ROOT),
                  function=TARGET.function, ncases=len(TARGET.cases))
    for family, body in ATTACKS.items():
        write(with_cell(reference, TARGET.function, _fill(body, **values)),
              folder / f"{family}.ipynb")
    (folder / "symlink_to_the_book.ipynb").symlink_to(book)
    before, host_tmp = _fingerprint(), set(os.listdir("/tmp"))
    old = os.environ.get("INSTRUCTOR_TOKEN")
    os.environ["INSTRUCTOR_TOKEN"] = TOKEN
    try:
        submissions = plan([str(folder)])
        for future in grade_all(submissions, timeout=10, jobs=4, mode=mode).values():
            future.result()
        write_report(submissions, str(report), 10, mode)
    finally:
        os.environ.pop("INSTRUCTOR_TOKEN") if old is None else os.environ.update(INSTRUCTOR_TOKEN=old)
    accepted = 0
    try:
        while listener.accept():
            accepted += 1
    except BlockingIOError:
        pass
    listener.close()
    return {"by_student": {s.student: s for s in submissions}, "report": report.read_text(),
            "outside": outside, "accepted": accepted, "changed": before != _fingerprint(),
            "new_tmp": sorted(name for name in set(os.listdir("/tmp")) - host_tmp
                              if "pwned" in name or name in ("swap", "filler", "result.json"))}


def test_the_control_student_keeps_full_marks(attacked):
    control = attacked["by_student"]["control"]
    assert control.points == control.max_points > 0, control.to_dict()


@pytest.mark.parametrize("family", [*ATTACKS, "symlink_to_the_book"])
def test_attack_scores_zero_and_leaves_nothing_outside(attacked, family):
    submission = attacked["by_student"][family]
    result = submission.results[TARGET.id]
    assert result.points == 0, result.summary()
    if family == "symlink_to_the_book":
        assert "symbolic link" in result.message and submission.points == 0
    assert list(attacked["outside"].iterdir()) == []
    assert attacked["new_tmp"] == [], "files appeared in the host's /tmp"
    assert not attacked["changed"], "the grader, mlpcore or the book changed"
    assert attacked["accepted"] == 0, "a sandbox reached a port on the host"
    assert TOKEN not in attacked["report"] and CONTROL_SECRET not in attacked["report"]
    assert _sandbox_processes() == [], "a sandboxed process outlived its run"


def test_the_report_says_why_the_attacks_failed(attacked):
    """The messages are the plain consequences of the sandbox, not of a guard."""
    by_student = attacked["by_student"]
    message = {family: by_student[family].results[TARGET.id].summary()
               for family in ATTACKS}
    assert "No module named 'mlpcore'" in message["calls_mlpcore"]
    # a forged reply is read as data: its "points" mean nothing, its outputs are judged
    assert "got None" in message["forges_the_result"]
    assert "a Spy" in message["array_reads_the_judge"]
    leaked = message["leaks_secrets"]
    assert "FileNotFoundError" in leaked and TOKEN not in leaked
    json.loads(attacked["report"])
