"""Authenticated telecommands under the MicroPython unix port (x86-64), modules as .mpy.

Figures: the time firmware/auth.py takes to check one signed telecommand's trailer (HMAC-SHA256
over the packet, constant-time compare; the issue's target: under 2 ms, host-dependent here,
the board's Cortex-M4 is slower) and the heap it allocates per check (host-independent:
the two hash objects and digests, a memoryview), with a key in use, at the heap of
tests/bench/firmware.py's figures (the rig does not fit the board's with room for them).
"""

import subprocess

from tests.bench import Figures, spread
from tests.bench.firmware import BIN, HEAP_K, compiled

ALLOC_BOUND = 1024  # bytes per check: two SHA-256 states, two digests, a slice of the key and a memoryview
REPEATS = 5

_SCRIPT = """
import gc, time
from tests.firmware import fakes
from firmware.tables import CMD_ARM, CMD_KEY_ACTIVATE
r = fakes.Rig('bench_auth', keys=bytes(range(32)) + bytes(96))
r.run()
raw = r.signed(CMD_ARM)
buf = bytearray(raw)
a = r.app.verification.auth
tc = r.app.services.tc
tc.parse(buf, len(buf) - 2)
n = 200
def check():
    tc.data_len = 23
    return a.check(buf, tc, 21, 5)
assert check() == 0
gc.collect()
gc.disable()  # 20 checks' garbage fits the heap with a collection held off
a0 = gc.mem_alloc()
for _ in range(20):
    check()
per_check = (gc.mem_alloc() - a0) / 20
gc.enable()
gc.collect()
for _ in range(%d):
    t0 = time.ticks_us()
    for _ in range(n):
        check()
    print(time.ticks_diff(time.ticks_us(), t0) / n)
print(per_check)
""" % REPEATS


def measure():
    """(microseconds per check over REPEATS runs, bytes allocated per check)."""
    with compiled(_SCRIPT, "authbench") as tmp:
        p = subprocess.run([str(BIN / "micropython"), "-X", "heapsize=%dk" % HEAP_K, "-c", "import authbench"],
                           cwd=tmp, capture_output=True, text=True, timeout=300)
        if p.returncode:
            raise RuntimeError((p.stdout + p.stderr).strip().splitlines()[-1])
        values = [float(x) for x in p.stdout.split()]
        return values[:-1], values[-1]


def run(report=False):
    times, per_check = measure()
    f = Figures("auth: MAC check of a signed TC, micropython unix port (x86-64), -X heapsize=%dk" % HEAP_K)
    f.add("  HMAC-SHA256 check per telecommand       %s us (host-dependent; target < 2000 us)"
          % spread(times, "%.1f"))
    f.check("  allocation per check                    %6.1f bytes" % per_check, "<= %d" % ALLOC_BOUND,
            per_check <= ALLOC_BOUND)
    return f


if __name__ == "__main__":
    print("\n".join(run().lines))
