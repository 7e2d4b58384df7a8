"""Firmware figures under the MicroPython unix port (x86-64), against the board's heap budget.

The firmware and the test rig's fake board are compiled first (ground.build),
as the sim and the board load them (compiling sources at import needs heap).
Figures: heap taken by the firmware's modules and by the application after
boot, the least free heap seen while it arms and releases four slots, the
smallest -X heapsize that runs that scenario, allocation per main-loop
iteration in steady state, and the time to build, frame and write one HK packet.
Objects and code references take 8-byte words here, 4 on the STM32, so the
same firmware needs noticeably less heap on the board: the budget here is
sim.BOARD_HEAP, the board's 64 KiB scaled for this port.
"""

import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ground import build
from sim import BOARD_HEAP
from tests.bench import Figures

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUDGET_K = int(BOARD_HEAP.rstrip("k"))
HEAP_K = 160  # room for the figures themselves; the smallest heap is searched separately

_SCRIPT = """
import gc, sys, time
gc.collect()
base = gc.mem_alloc()
import firmware.app
gc.collect()
modules = gc.mem_alloc() - base
from tests.firmware import fakes
from firmware.tables import CMD_ARM, CMD_FIRE_SEQUENCE, CMD_HK_PERIOD
gc.collect()
harness = gc.mem_alloc() - base - modules
r = fakes.Rig('bench')
r.board.uart.capture = False
r.app.hk.collect = fakes.no_collection  # a collection would hide allocations from mem_alloc
r.send(CMD_HK_PERIOD, 1, 100)
r.run(500)
gc.collect()
live = gc.mem_alloc() - base - harness - modules
low = gc.mem_free()
r.board.release_after = [300, 300, 300, 300]
r.send(CMD_ARM)
r.send(CMD_FIRE_SEQUENCE, 15, 0)
for _ in range(2000):
    r.app.step()
    r.board.idle(10)
    low = min(low, gc.mem_free())
assert list(r.app.state.slots) == [2, 2, 2, 2], r.app.state.slots
n = 1000
gc.collect()
gc.disable()
a0 = gc.mem_alloc()
for _ in range(n):
    r.app.step()
    r.board.idle(10)
per_iter = (gc.mem_alloc() - a0) / n
gc.enable()
t0 = time.ticks_us()
for _ in range(n):
    r.app.hk.send()
hk_us = time.ticks_diff(time.ticks_us(), t0) / n
print(modules, live, harness, low, per_iter, hk_us)
"""


def compile_app_and_rig(dst):
    """The firmware package and the test rig, compiled into ``dst`` by ground.build (bytecode .mpy)."""
    build.compile_package(dst / "firmware")
    for rel in ("tests/__init__.py", "tests/firmware/__init__.py", "tests/firmware/fakes.py"):
        build.compile_module(ROOT / rel, dst / Path(rel).with_suffix(".mpy"))


def _run(tmp, heap_k):
    return subprocess.run([str(BIN / "micropython"), "-X", "heapsize=%dk" % heap_k, "-c", "import fwbench"],
                          cwd=tmp, capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def compiled(script, module):
    """A temporary folder holding the app, the rig and ``script`` as ``module``, all as .mpy."""
    tmp = Path(tempfile.mkdtemp(prefix=module + "-"))
    try:
        compile_app_and_rig(tmp)
        (tmp / (module + ".py")).write_text(script)
        build.compile_module(tmp / (module + ".py"), tmp / (module + ".mpy"))
        (tmp / (module + ".py")).unlink()  # the .mpy only: compiling at run time needs heap
        yield tmp
    finally:
        shutil.rmtree(tmp)


def measure():
    """(modules, live app, harness, least free, bytes/iteration, us/HK, smallest heap KiB)."""
    with compiled(_SCRIPT, "fwbench") as tmp:
        p = _run(tmp, HEAP_K)
        if p.returncode:
            raise RuntimeError((p.stdout + p.stderr).strip().splitlines()[-1])
        figures = [float(x) for x in p.stdout.split()]
        smallest = next(k for k in range(32, HEAP_K + 1, 4) if _run(tmp, k).returncode == 0)
        return (*figures, smallest)


def run(report=False):
    modules, live, harness, low, per_iter, hk_us, smallest = measure()
    f = Figures("firmware: micropython unix port (x86-64), modules as .mpy, figures at -X heapsize=%dk" % HEAP_K)
    f.add("  firmware modules (tables, link, app)    %6d bytes" % modules)
    f.add("  application objects after boot          %6d bytes (the test rig's fake board: %d more)" % (live, harness))
    f.add("  least free heap, 4-slot release         %6d bytes (garbage included)" % low)
    f.check("  smallest heap running that release      %6d KiB (rig included)" % smallest, "<= %d KiB" % BUDGET_K,
            smallest <= BUDGET_K)
    f.check("  allocation per main-loop iteration      %6.2f bytes (steady state, HK at 10 Hz)" % per_iter, "0",
            per_iter == 0)
    f.add("  HK packet: pack + CRC + COBS + write    %6.1f us (host-dependent)" % hk_us)
    return f


if __name__ == "__main__":
    print("\n".join(run().lines))
