"""Link-layer figures: ground decode rate next to spacepackets, firmware encode time."""

import subprocess
import sys
import time
from pathlib import Path

from cobs import cobs
from spacepackets.ecss import PusTm

from firmware import framing, packet
from tests.bench import Figures

ROOT = Path(__file__).resolve().parents[2]
_N = 20000
_PAYLOAD = 64

_MP_ENCODE = """
import sys, time, struct, gc
sys.path.insert(0, '.')
from firmware import framing, packet
w = packet.TmWriter()
frame = bytearray(framing.MAX_FRAME + 1)
n_iter = %d
gc.collect()
a0 = gc.mem_alloc()
t0 = time.ticks_us()
for i in range(n_iter):
    struct.pack_into('>16I', w.buf, packet.TM_HEADER, i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    n = w.finish(3, 25, 64, 100, i)
    framing.encode_into(w.buf, n, frame)
dt = time.ticks_diff(time.ticks_us(), t0)
print(dt / n_iter, (gc.mem_alloc() - a0) / n_iter)
"""


def _stream():
    w = packet.TmWriter()
    out = []
    for i in range(_N):
        w.buf[packet.TM_HEADER:packet.TM_HEADER + _PAYLOAD] = bytes([i & 0xFF]) * _PAYLOAD
        n = w.finish(3, 25, _PAYLOAD, 100, i)
        out.append(bytes(w.buf[:n]))
    return out


def _rate(fn):
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return _N / best


def run(report=False):
    packets = _stream()
    stream = b"".join(framing.frame(p) for p in packets)

    def ours():
        d = framing.Deframer()
        d.feed(stream, lambda buf, n: packet.decode_tm(buf, n) is not None)
        assert d.frames == _N

    def theirs_unpack_only():
        for p in packets:
            PusTm.unpack(p, timestamp_len=7)

    def theirs_from_stream():
        for f in stream.split(b"\x00")[:-1]:
            PusTm.unpack(cobs.decode(f), timestamp_len=7)

    r_ours, r_unpack, r_stream = _rate(ours), _rate(theirs_unpack_only), _rate(theirs_from_stream)
    mp = subprocess.run([str(Path(sys.executable).parent / "micropython"), "-X", "heapsize=256k", "-c",
                         _MP_ENCODE % 5000], cwd=ROOT, capture_output=True, text=True, check=True)
    us, allocs = (float(x) for x in mp.stdout.split())
    f = Figures("link: ground decode of COBS-framed HK packets (64-byte payload), %d frames, best of 5 "
                "(host-dependent)" % _N)
    f.add("  ours (deframe + CRC + decode_tm)        %9.0f frames/s" % r_ours)
    f.add("  spacepackets PusTm.unpack alone         %9.0f frames/s  (ours is %.1fx)" % (r_unpack, r_ours / r_unpack))
    f.add("  spacepackets with COBS split + decode   %9.0f frames/s  (ours is %.1fx)" % (r_stream, r_ours / r_stream))
    f.add("link: firmware TM encode + COBS under micropython unix port: %.1f us/packet (host-dependent), "
          "%.2f bytes allocated/packet (the timing loop's own)" % (us, allocs))
    return f
