"""Stand-ins for ``mpremote``, ``dfu-util`` and ``st-flash`` with a model of the board behind them.

    python board_tools.py TOOL ARGS...      (tests wrap it as executables named TOOL)

Every call appends ``{"tool": TOOL, "argv": ARGS}`` to $STANDIN_STATE/log.jsonl first.
dfu-util and st-flash only record (exit 1 if $STANDIN_FAIL names them). mpremote drives
a model of a NUCLEO-F429ZI running MicroPython, kept in $STANDIN_STATE:

    flash/       the board's /flash
    board.json   what runs ("app", the watchdog fed by it, or "repl"), how many connects
                 fail while it boots after a reset, the filesystem on /flash ("fs": VfsFat
                 or VfsLfs2) and whether the image has littlefs ("lfs2"), and the faults to
                 inject (below)

mpremote ``connect PORT`` then steps joined by ``+``: ``exec CODE`` (run by CPython with
``os``, ``open``, ``machine``, ``vfs`` and ``pyb`` mapped onto flash/; ``VfsLfs2.mkfs``
empties it), ``cp SRC... :DST`` and ``reset``.
Entering the REPL interrupts the application, whose watchdog keeps running: after
``wdt_writes`` flash operations it resets the board (the race of a reflash under a running
application). ``cut_after`` N cuts the power during the N-th flash operation since the
model was set up (a file being written is left half written). A reset or power cut boots
the board the way firmware/main.py decides (the real launcher, imported) when /flash/main.py
is a launcher; an older main.py runs its application (and watchdog) whatever the flag says.
"""

import builtins
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firmware import main as launcher  # noqa: E402  (the repository root is on sys.path first)

STATE = Path(os.environ.get("STANDIN_STATE", "."))
DEFAULTS = {"state": "app", "wdt": True, "running": "", "booting": 0, "boot_delay": 1, "fs": "VfsFat", "lfs2": False,
            "wdt_writes": 3, "cut_after": None, "ops": 0, "oplog": [], "since_interrupt": 0}


class Reset(Exception):
    """The board reset (machine.reset, watchdog or power cut); ``why`` is printed by mpremote."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


class Board:
    def __init__(self):
        self.flash = STATE / "flash"
        self.path = STATE / "board.json"
        self.s = dict(DEFAULTS, **json.loads(self.path.read_text())) if self.path.exists() else dict(DEFAULTS)

    def save(self):
        self.path.write_text(json.dumps(self.s))

    def local(self, path):
        if path != launcher.ROOT and not path.startswith(launcher.ROOT + "/"):
            raise OSError(2, "not on /flash: %s" % path)
        return self.flash / path[len(launcher.ROOT):].lstrip("/")

    def boot(self):
        """What runs after a reset: firmware/main.py's decision if /flash/main.py is a launcher
        (it defines boot()); an older main.py runs /flash/firmware whatever the flag says;
        none at all leaves the REPL."""
        main_py = self.flash / "main.py"
        if main_py.exists() and b"\ndef boot(" in main_py.read_bytes():
            decision = launcher.boot(str(self.flash))
        else:
            decision = "legacy" if main_py.exists() else None
        self.s.update(state="repl" if decision is None else "app", wdt=decision is not None,
                      running=decision or "", booting=self.s["boot_delay"], since_interrupt=0)

    def enter_repl(self):
        if self.s["state"] == "app":  # Ctrl-C: the application stops, its watchdog does not
            self.s.update(state="repl", since_interrupt=0)

    def operation(self, what, torn=None):
        """Count one flash operation (``what``: "write /flash/app"); a watchdog reset before it,
        or a power cut during it. Every operation is listed in board.json's "oplog"."""
        if self.s["wdt"] and self.s["since_interrupt"] >= self.s["wdt_writes"]:
            self.boot()
            raise Reset("watchdog")
        self.s["ops"] += 1
        self.s["oplog"].append(what)
        self.s["since_interrupt"] += 1
        if self.s["cut_after"] == self.s["ops"]:
            if torn:
                torn()
            self.boot()
            raise Reset("power cut")

    def write_file(self, path, data):
        target = self.local(path)
        self.operation("write " + path, torn=lambda: target.write_bytes(data[: len(data) // 2]))
        target.write_bytes(data)


class FakeOs:
    """The ``os`` functions the board-side steps use, on the model's flash."""

    def __init__(self, board):
        self.b = board

    def stat(self, p):
        st = os.stat(self.b.local(p))
        return (0x4000 if Path(self.b.local(p)).is_dir() else 0x8000, st.st_size)

    def listdir(self, p):
        return sorted(os.listdir(self.b.local(p)))

    def remove(self, p):
        target = self.b.local(p)
        if not target.is_file():
            raise OSError(2, p)
        self.b.operation("remove " + p)
        target.unlink()

    def rmdir(self, p):
        self.b.operation("rmdir " + p)
        self.b.local(p).rmdir()

    def mkdir(self, p):
        if self.b.local(p).exists():
            raise OSError(17, p)
        self.b.operation("mkdir " + p)
        self.b.local(p).mkdir()

    def rename(self, a, b):
        src, dst = self.b.local(a), self.b.local(b)
        if not src.exists():
            raise OSError(2, a)
        if dst.exists():  # FAT, as MicroPython's VfsFat does it: remove the target, then rename
            self.b.operation("remove " + b)
            dst.unlink()
        self.b.operation("rename %s %s" % (a, b))
        src.rename(dst)


class FakeVfs:
    """``vfs``: the mounted filesystem's kind, and littlefs when the image has it."""

    def __init__(self, board):
        self.b = board
        if board.s["lfs2"]:
            self.VfsLfs2 = type("VfsLfs2", (), {"mkfs": staticmethod(self._mkfs), "__init__": lambda fs, bdev: None})

    def mount(self, *args):
        if not args:
            return [(type(self.b.s["fs"], (), {})(), launcher.ROOT)] if self.b.s["fs"] else []
        fs, path = args
        self.b.s["fs"] = type(fs).__name__
        return None

    def umount(self, path):
        self.b.s["fs"] = None

    def _mkfs(self, bdev):
        self.b.operation("mkfs")
        for p in sorted(self.b.flash.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()


class FakeFile:
    def __init__(self, board, path, mode):
        self.b, self.path, self.mode = board, path, mode
        self.data = b"" if "w" in mode else self.b.local(path).read_bytes()

    def read(self):
        return self.data if "b" in self.mode else self.data.decode()

    def write(self, x):
        self.data += x if isinstance(x, bytes) else x.encode()
        return len(x)

    def close(self):
        if "w" in self.mode:
            self.b.write_file(self.path, self.data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_exec(board, code):
    fake_os = FakeOs(board)

    class Machine:
        @staticmethod
        def reset():
            board.boot()
            raise Reset("reset")

    class Pyb:
        @staticmethod
        def Flash(start=None):  # noqa: N802  (pyb's name)
            return "flash"

    modules = {"os": fake_os, "machine": Machine, "vfs": FakeVfs(board), "pyb": Pyb}

    def fake_open(path, mode="r"):
        if "w" not in mode and not board.local(path).is_file():
            raise OSError(2, path)
        return FakeFile(board, path, mode)

    def fake_import(name, *args, **kwargs):
        return modules[name]

    env = {"__builtins__": dict(vars(builtins), open=fake_open, __import__=fake_import)}
    exec(code, env)


def mpremote(board, argv):
    if argv[:1] != ["connect"] or len(argv) < 2:
        return fail("mpremote: the stand-in expects 'connect PORT ...'")
    if not os.path.exists(argv[1]):
        return fail("mpremote: failed to access %s" % argv[1])
    if board.s["booting"]:
        board.s["booting"] -= 1
        return fail("mpremote: could not enter raw repl")
    board.enter_repl()
    steps, step = [], []
    for a in argv[2:] + ["+"]:
        if a == "+":
            steps.append(step)
            step = []
        else:
            step.append(a)
    try:
        for step in steps:
            if step[0] == "exec":
                run_exec(board, step[1])
            elif step[0] == "cp":
                *srcs, dst = step[1:]
                for src in srcs:
                    path = dst[1:] + Path(src).name if dst.endswith("/") else dst[1:]
                    board.write_file(path, Path(src).read_bytes())
            elif step[0] == "reset":
                board.boot()
                return 0
            else:
                return fail("mpremote: the stand-in does not know %r" % step[0])
    except Reset as r:
        return fail("mpremote: device disconnected (%s)" % r.why)
    except OSError as e:
        return fail("mpremote: OSError: %s" % e)
    return 0


def fail(message):
    print(message, file=sys.stderr)
    return 1


def main(tool, argv):
    with open(STATE / "log.jsonl", "a") as log:
        log.write(json.dumps({"tool": tool, "argv": argv}) + "\n")
    if tool != "mpremote":
        return fail("%s: error (injected)" % tool) if os.environ.get("STANDIN_FAIL") == tool else 0
    board = Board()
    try:
        return mpremote(board, argv)
    finally:
        board.save()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
