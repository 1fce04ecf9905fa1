"""Hostile submissions, one per attack family of issues 13 and 19, graded in one class
beside an honest control student, in the real sandbox.

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
import time
from pathlib import Path

import pytest

from mlpgrader.grader import grade_all, plan, write_report
from tests._support import ROOT
from tests.grader._support import (cell_text, ch00_exercises, chapter0_notebook, read,
                                   sandbox_mode, signature, with_cell, write)

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
    # issue 19: the sandbox's own init, new processes, the kernel's other doors
    "traces_the_sandbox_init": """
    import ctypes, errno, json, os, platform
    libc = ctypes.CDLL(None, use_errno=True)
    def status(result):
        return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    buffer = ctypes.create_string_buffer(8)
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 8)
    vm_readv = {"x86_64": 310, "aarch64": 270}[platform.machine()]
    found = {"pid": os.getpid(),
             "others": [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()],
             "seize1": status(libc.ptrace(0x4206, 1, 0, 0)),
             "traceme": status(libc.ptrace(0, 0, 0, 0)),
             "pidfd1": status(libc.syscall(434, 1, 0)),
             "vmread1": status(libc.syscall(vm_readv, 1, iov, 1, iov, 1, 0)),
             "clone": status(libc.syscall({"x86_64": 56, "aarch64": 220}[platform.machine()],
                                          17, 0, 0, 0, 0)),
             "fork": status(libc.fork())}
    if found["clone"] == "ok" and libc.syscall(39) != found["pid"]:
        os._exit(0)  # never reached: the child of a clone that should not exist
    raise RuntimeError("RESULT " + json.dumps(found, separators=(",", ":")))
""",
    "writes_outside_tmp": """
    import errno, json
    found = {}
    for path in ("/x", "/dev/x", "/dev/shm/x", "/usr/x", "/site/x", "/grader/x", "/proc/x"):
        try:
            open(path, "w").write("x")
            found[path] = "ok"
        except OSError as exc:
            found[path] = errno.errorcode.get(exc.errno, "?")
    written = 0
    try:
        for index in range(8):  # 8 x 4 MiB files: over the 16 MiB cap of /tmp
            with open("/tmp/fill%d" % index, "wb") as handle:
                for _ in range(4):
                    handle.write(b"x" * 2 ** 20)
                    handle.flush()
                    written += 1
    except OSError as exc:
        found["tmp"] = errno.errorcode.get(exc.errno, "?")
    found["MiB"] = written
    raise RuntimeError("RESULT " + json.dumps(found, separators=(",", ":")))
""",
    "holds_memory_outside_the_limit": """
    import ctypes, errno, json, mmap, os
    libc = ctypes.CDLL(None, use_errno=True)
    found = {}
    try:
        fd = os.memfd_create("hoard")
        os.ftruncate(fd, 2 ** 30)
        found["memfd"] = "ok"
    except OSError as exc:
        found["memfd"] = errno.errorcode.get(exc.errno, "?")
    segment = libc.shmget(0, 2 ** 30, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    found["shmget"] = "ok" if segment >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    try:
        mmap.mmap(-1, 3 * 2 ** 30, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        found["mmap3G"] = "ok"
    except OSError as exc:
        found["mmap3G"] = errno.errorcode.get(exc.errno, "?")
    try:
        np.ones(3 * 2 ** 30 // 8)
        found["numpy3G"] = "ok"
    except MemoryError:
        found["numpy3G"] = "MemoryError"
    import threading
    try:
        threading.Thread(target=lambda: None).start()
        found["thread"] = "ok"
    except RuntimeError:
        found["thread"] = "RuntimeError"
    raise RuntimeError("RESULT " + json.dumps(found, separators=(",", ":")))
""",
    "reaches_the_kernel": """
    import json
    raise RuntimeError("RESULT " + json.dumps(probe_kernel(), separators=(",", ":")))
""",
    "answers_slowly": """
    import os, time
    for fd in range(3, 30):  # the reply pipe is one of these: start an answer, never end it
        try:
            os.write(fd, b'{"problem": "", "fatal": false, ')
        except OSError:
            pass
    time.sleep(3600)
""",
    "forges_a_huge_complex": """
    import json, os
    answer = {"changed": None, "warning": "", "raised": None, "after": {},
              "output": {"$": "complex", "v": [10 ** 400, 0]}}
    forged = {"problem": "", "fatal": False, "stub": False, "cases": [answer] * {ncases}}
    for fd in range(3, 30):
        try:
            os.write(fd, json.dumps(forged).encode())
        except OSError:
            pass
    os._exit(0)
""",
    "forges_a_generator_state": """
    import json, os
    state = {"$": "dict", "v": {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                                "state": {"$": "dict", "v": {"state": -1, "inc": -1}}}}
    answer = {"changed": None, "warning": "", "raised": None, "after": {},
              "output": {"$": "generator", "state": state}}
    forged = {"problem": "", "fatal": False, "stub": False, "cases": [answer] * {ncases}}
    for fd in range(3, 30):
        try:
            os.write(fd, json.dumps(forged).encode())
        except OSError:
            pass
    os._exit(0)
""",
}


# Calls that only a seccomp filter refuses with EPERM: on the host (no filter) each of
# them fails otherwise (EINVAL, EFAULT, EBADF) or succeeds (unshare(0) does nothing).
PROBE_KERNEL = """
def probe_kernel():
    import ctypes, errno, platform
    libc = ctypes.CDLL(None, use_errno=True)
    numbers = {"x86_64": {"ius": 425, "iue": 426, "iur": 427, "kc": 250, "ak": 248,
                          "rk": 249, "mfd": 319, "uns": 272, "bpf": 321},
               "aarch64": {"ius": 425, "iue": 426, "iur": 427, "kc": 219, "ak": 217,
                           "rk": 218, "mfd": 279, "uns": 97, "bpf": 280}}[platform.machine()]
    found = {}
    for name, number in numbers.items():
        result = libc.syscall(number, 0, 0, 0, 0, 0)
        found[name] = "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    return found
"""


def _fill(body: str, **values) -> str:
    text = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    for key, value in values.items():
        text = text.replace("{%s!r}" % key, repr(value)).replace("{%s}" % key, str(value))
    prelude = PROBE_KERNEL.lstrip() + "\n\n" if "probe_kernel()" in text else ""
    return prelude + SIGNATURE + text + "\n"


def _fingerprint() -> dict:
    files = [*ROOT.glob("mlpgrader/*.py"), *ROOT.glob("mlpcore/**/*.py"),
             *ROOT.glob("grading/*.py"), *ROOT.glob("book/*.ipynb")]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def _parent(pid: str) -> str:
    stat = (Path("/proc") / pid / "stat").read_text()
    return stat.rpartition(")")[2].split()[1]


def _ours_or_orphaned(pid: str, own_namespace: str) -> bool:
    """Whether a process hangs below this test process, or was orphaned (its first
    ancestor in this PID namespace is init): what a sandbox of ours would leave
    behind. Other engineers' graders on a shared machine hang below themselves."""
    ancestor = _parent(pid)
    while ancestor not in ("0", "1") and os.readlink(f"/proc/{ancestor}/ns/pid") != own_namespace:
        ancestor = _parent(ancestor)
    if ancestor in ("0", "1"):
        return ancestor == "1"
    while ancestor not in ("0", "1"):
        if ancestor == str(os.getpid()):
            return True
        ancestor = _parent(ancestor)
    return False


def _processes_elsewhere() -> set[tuple[str, str]]:
    """(pid, PID namespace) of our processes in another PID namespace than this one."""
    own = os.readlink("/proc/self/ns/pid")
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "ns" / "pid") != own \
                    and _ours_or_orphaned(entry.name, own):
                found.add((entry.name, os.readlink(entry / "ns" / "pid")))
        except OSError:
            pass
    return found


def _survivors(before: set) -> set:
    """Our processes in other PID namespaces that were not there before and are still
    there 3 s later (one that another grader on this machine orphaned for the instant
    of its teardown is gone by then; a survivor is not)."""
    left = _processes_elsewhere() - before
    if left:
        time.sleep(3)
        left &= _processes_elsewhere()
    return left


def _sandbox_processes() -> list[str]:
    own = os.readlink("/proc/self/ns/pid")
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"/grader/child.py" in (entry / "cmdline").read_bytes() \
                    and _ours_or_orphaned(entry.name, own):
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
    elsewhere = _processes_elsewhere()
    old = os.environ.get("INSTRUCTOR_TOKEN")
    os.environ["INSTRUCTOR_TOKEN"] = TOKEN
    start = time.monotonic()
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
            "seconds": time.monotonic() - start,
            "left_behind": _survivors(elsewhere),
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


# ---------------------------------------------------------------- issue 19, item 4
def _results(attacked, family) -> dict:
    """What an attack found out, from the RESULT it raised (the sandbox's answers)."""
    message = attacked["by_student"][family].results[TARGET.id].summary()
    assert "RESULT " in message, message
    return json.loads(message.split("RESULT ", 1)[1].split("}", 1)[0] + "}")


def test_the_child_is_the_sandbox_init_and_cannot_trace_or_start_anything(attacked):
    """No bubblewrap process inside the sandbox to trace (the child is PID 1, alone),
    and ptrace, pidfd_open, process_vm_readv, clone and fork are all refused."""
    found = _results(attacked, "traces_the_sandbox_init")
    assert found["pid"] == 1 and found["others"] == [], found
    for call in ("seize1", "traceme", "pidfd1", "vmread1", "clone", "fork"):
        assert found[call] == "EPERM", (call, found)
    assert attacked["left_behind"] == set(), "a process outlived its sandbox"


def test_only_the_capped_tmp_is_writable(attacked):
    found = _results(attacked, "writes_outside_tmp")
    for path in ("/x", "/dev/x", "/dev/shm/x", "/usr/x", "/site/x", "/grader/x"):
        assert found[path] == "EROFS", (path, found)
    assert found["/proc/x"] != "ok", found
    assert found["tmp"] == "ENOSPC" and found["MiB"] <= 16, found


def test_memory_cannot_be_held_outside_the_address_space_limit(attacked):
    """memfd and System V shared memory are refused (they would hold memory that the
    address-space limit does not count), and so are threads (a kernel stack each); a
    3 GiB mapping or array fails."""
    found = _results(attacked, "holds_memory_outside_the_limit")
    assert found == {"memfd": "EPERM", "shmget": "EPERM", "mmap3G": "ENOMEM",
                     "numpy3G": "MemoryError", "thread": "RuntimeError"}, found


def test_io_uring_keyrings_memfd_unshare_and_bpf_are_refused_by_the_filter(attacked):
    """Each call answers EPERM in the sandbox; the same calls on the host (no filter)
    do not, so the EPERM is the filter's."""
    found = _results(attacked, "reaches_the_kernel")
    space: dict = {}
    exec(PROBE_KERNEL, space)
    host = space["probe_kernel"]()
    assert set(found) == set(host)
    for call, status in found.items():
        assert status == "EPERM" and host[call] != "EPERM", (call, status, host[call])


def test_the_time_limit_covers_the_answer(attacked):
    """A child that starts its answer and never finishes it is timed out, like one
    that never answers; the class is not held up beyond that."""
    result = attacked["by_student"]["answers_slowly"].results[TARGET.id]
    assert result.status == "error" and "timed out after 10 s" in result.message, result
    assert attacked["seconds"] < 120, attacked["seconds"]


@pytest.mark.parametrize("family", ["forges_a_huge_complex", "forges_a_generator_state"])
def test_a_forged_answer_that_cannot_be_decoded_costs_that_exercise_only(attacked, family):
    """A complex number with a 400-digit part, a generator state holding -1: the
    decoder refuses them (no OverflowError escapes), the exercise scores 0 with a
    message, the student's other exercises and the class are graded, the report is
    written."""
    submission = attacked["by_student"][family]
    result = submission.results[TARGET.id]
    assert result.status == "error" and "unreadable answer" in result.message, result
    others = [r for key, r in submission.results.items() if key != TARGET.id]
    assert others and all(r.points == r.max_points for r in others)
    assert any(row["student"] == family for row in json.loads(attacked["report"])["submissions"])


def test_a_pipe_held_open_after_the_child_ends_cannot_stall_the_grader(tmp_path):
    """The old failure: a process the child left behind held the reply pipe, so the
    grader waited for it. Now reading has the run's deadline and the whole process
    group is killed. Shown with a plain shell (in the sandbox no such process can be
    started at all) beside a control that answers at once."""
    from mlpgrader import sandbox
    marker = tmp_path / "still-running"
    holder = f"(sleep 31.4159; touch {marker}) & echo '{{}}'"  # an unusual argv to look for
    start = time.monotonic()
    run = sandbox._communicate(["sh", "-c", holder], {"PATH": "/usr/bin:/bin"}, str(tmp_path),
                               b"", timeout=2, reply_limit=1000)
    held = time.monotonic() - start
    assert run.timed_out and held < 4, (run, held)
    control = sandbox._communicate(["sh", "-c", "echo '{}'"], {"PATH": "/usr/bin:/bin"},
                                   str(tmp_path), b"", timeout=2, reply_limit=1000)
    assert control.reply.strip() == b"{}" and not control.timed_out
    time.sleep(0.5)
    assert not _running(["sleep", "31.4159"]), "the process holding the pipe survived"
    assert not marker.exists()


def _running(argv: list[str]) -> bool:
    """Whether a process with exactly this argv exists."""
    wanted = b"".join(arg.encode() + b"\0" for arg in argv)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                return True
        except OSError:
            pass
    return False


def test_a_slow_answer_is_cut_at_the_deadline(tmp_path):
    """An answer dribbled out a byte at a time is timed out at the run's deadline."""
    from mlpgrader import sandbox
    slow = "while true; do printf x; sleep 0.2; done"
    start = time.monotonic()
    run = sandbox._communicate(["sh", "-c", slow], {"PATH": "/usr/bin:/bin"}, str(tmp_path),
                               b"", timeout=2, reply_limit=1000)
    assert run.timed_out and time.monotonic() - start < 4 and run.reply.startswith(b"x")
