"""Fuzzing the firmware's deframer and command handlers: the unix port, then hypothesis.

``unix_port`` compiles the firmware, the fake board and tests/campaign/fuzz_mp.py with
ground.build (as tests/bench/firmware.py does) and runs fuzz_mp under the board's heap + HARNESS_K
(``keyed``: with a key in use, signed commands too, changed, cut and replayed);
``under_hypothesis`` feeds the same App on CPython from hypothesis strategies (derandomized:
the same examples every run): raw link bytes, valid-CRC telecommands of any type with random
data, and valid dictionary commands with in-range arguments; and, with ``signed``, on an App
with a key in use (KEYS), dictionary commands signed with it, one byte of each changed (its CRC
made good, so that only the MAC can refuse it) or none. Both keep the remove-before-flight
plug in, so any output is a violation (fuzz_mp.unsafe).
"""

import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import dictionary as d
from firmware import framing
from firmware.dictionary import MAX_TC_DATA
from firmware.packet import crc16, encode_tc
from ground import build
from tests.bench.firmware import BIN, ROOT, compile_app_and_rig
from tests.campaign import rig
from tests.campaign.fuzz_mp import KINDS, STEPS, plugged_rig, unsafe
from tests.firmware.fakes import sign

KIND_NAMES = ("valid command", "valid CRC, random data", "valid CRC, random type", "bit flips",
              "truncated", "bytes inserted", "COBS bit flips", "random bytes", "signed", "signed, bytes changed",
              "signed, cut short", "signed, replayed")
TIMEOUT_S_PER_INPUT = 0.01  # generous: the unix port does about 10,000 inputs/s here


@dataclass
class Result:
    inputs: int = 0
    violations: list = field(default_factory=list)
    heap_low: int = 0
    heap: str = ""
    frames: int = 0
    crc_errors: int = 0
    oversize: int = 0
    undecodable: int = 0
    per_kind: tuple = ()
    runs: int = 0  # signed commands that ran (unix port, keyed)


# The harness's own code (tests/firmware/fakes.py, fuzz_mp) and the fake board's backup SRAM
# (a bytearray here, not heap on the board) take 16.8 KB of the heap (measured 2026-12-02):
# the firmware gets the board's budget on top of 16 KB of them, so 0.8 KB less than the board's
# (the strict side).
HARNESS_K = 16


def _heap():
    return "%dk" % (int(rig.HEAP.rstrip("k")) + HARNESS_K)


def unix_port(count, seed=1, keyed=False):
    """fuzz_mp.main(count, seed, keyed) under ``micropython -X heapsize=_heap()``; the Result."""
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        compile_app_and_rig(tmp)
        build.compile_module(ROOT / "tests/campaign/fuzz_mp.py", tmp / "fuzz_mp.mpy")
        p = subprocess.run([str(BIN / "micropython"), "-X", "heapsize=" + _heap(), "-c",
                            "import fuzz_mp; fuzz_mp.main(%d, %d, %r)" % (count, seed, KEYS if keyed else b"")],
                           cwd=tmp, capture_output=True, text=True, timeout=60 + count * TIMEOUT_S_PER_INPUT)
    finally:
        shutil.rmtree(tmp)
    lines = p.stdout.splitlines()
    r = Result(heap=_heap())
    r.violations = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("VIOLATION ")]
    done = [ln.split() for ln in lines if ln.startswith("RESULT ")]
    if p.returncode or not done:
        r.violations.append("micropython exited %d: %s" % (p.returncode, (p.stdout + p.stderr).strip()[-500:]))
        return r
    n, _found, low, r.frames, r.crc_errors, r.oversize, r.undecodable = (int(x) for x in done[0][1:8])
    r.inputs, r.heap_low = n, low
    r.per_kind = tuple(int(x) for x in done[0][8].split(","))
    r.runs = int(done[0][9])
    return r


def _command(c):
    """Strategy: bytes of a valid TC of dictionary command ``c``, arguments in range."""
    fixed = [a for a in c.args if a.code != "tc"]
    args = st.tuples(*(st.integers(a.lo, a.hi) for a in fixed))
    head = struct.pack(">H", c.function) if c.function else b""
    tail = st.binary(min_size=13, max_size=MAX_TC_DATA - 16) if len(fixed) < len(c.args) else st.just(b"")
    return st.builds(lambda a, t, seq: encode_tc(c.service, c.subtype,
                                                 (head + struct.pack(d.fmt(fixed), *a) + t)[:MAX_TC_DATA], seq=seq),
                     args, tail, st.integers(0, 0x3FFF))


LINK_INPUTS = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda s, t, d, seq: framing.frame(encode_tc(s, t, d, seq=seq)),
              st.sampled_from(sorted({c.service for c in d.COMMANDS})) | st.integers(0, 255),
              st.integers(0, 255), st.binary(max_size=MAX_TC_DATA + 8), st.integers(0, 0x3FFF)),
    st.one_of(*(_command(c) for c in d.COMMANDS)).map(framing.frame),
)


KEYS = bytes(range(1, 129))  # four keys installed; the first boot puts key 1 in use
# A signed command (KEY_REVOKE left out: revoking key 1 would leave nothing signed to run), the
# byte to change (modulo the length before the CRC) and what to xor it with (0: no change).
SIGNED_INPUTS = st.tuples(st.one_of(*(_command(c) for c in d.COMMANDS if c.name != "KEY_REVOKE")),
                          st.integers(0, 255), st.integers(0, 255))


def _signed(rig, example, count):
    tc, at, xor = example
    p = bytearray(sign(tc, 1, count, rig.app.verification.auth))
    p[at % (len(p) - 2)] ^= xor
    p[-2:] = struct.pack(">H", crc16(p, len(p) - 2))
    return framing.frame(bytes(p))


def under_hypothesis(count, signed=False):
    """``count`` hypothesis examples into one plugged App on CPython (``signed``: SIGNED_INPUTS
    into one with a key in use); the Result.

    The App keeps its state from one example to the next, as on a real link, so a finding
    is recorded with its input (the App is then replaced) rather than shrunk by hypothesis.
    """
    r = Result(heap="CPython")
    box = [plugged_rig(KEYS if signed else b"")]
    counts = [0, 0, 0, 0]  # frames, crc_errors, oversize, undecodable of the Apps replaced

    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(SIGNED_INPUTS if signed else LINK_INPUTS)
    def feed(data):
        r.inputs += 1
        app = box[0]
        if signed:
            data = _signed(app, data, r.inputs)
        app.board.uart.rx.extend(data)
        try:
            for _ in range(STEPS):
                app.app.step()
                app.board.idle(10)
            why = unsafe(app.board)
        except Exception as e:  # the finding itself
            why = "exception %r" % e
        if why:
            r.violations.append("%s, input %s" % (why, data.hex()))
            counts[:] = [a + b for a, b in zip(counts, _drops(app), strict=True)]
            box[0] = plugged_rig(KEYS if signed else b"")

    feed()
    r.frames, r.crc_errors, r.oversize, r.undecodable = (a + b for a, b in zip(counts, _drops(box[0]), strict=True))
    return r


def _drops(app):
    d = app.app.deframer
    return d.frames, d.crc_errors, d.oversize, d.undecodable


def describe(r, what):
    kinds = ", ".join("%s %d" % kv for kv in zip(KIND_NAMES, r.per_kind, strict=False)) if r.per_kind else ""
    heap = " least free heap %d bytes;" % r.heap_low if r.heap_low else ""
    heap += " %d signed commands ran;" % r.runs if r.runs else ""
    return ["  %s: %d inputs (heap %s),%s %d frames handled, dropped: %d CRC, %d oversize, %d undecodable; "
            "violations %d" % (what, r.inputs, r.heap, heap, r.frames, r.crc_errors, r.oversize, r.undecodable,
                               len(r.violations))] + (["    inputs by kind: " + kinds] if kinds else []) + [
        "    VIOLATION " + v[:300] for v in r.violations[:20]]


assert len(KIND_NAMES) == KINDS
