"""Command round trip against the simulated board at 115200 baud: PUS 17 ping, p50 and p99.

Each PING is timed from the ground's write to the ground's receipt of its
ACCEPTED and of its COMPLETED report, and set next to the wire time of the
bytes involved (the framed TC, then every framed report up to that stage, at
10 bits per byte on 8N1). Periodic housekeeping is switched off for the run, so
that only the command's own bytes share the line. The same exchange over a bare
socket (no ground library), right after on the same board, shows how much of the
time is the board's and the sim's: the difference of the two p50 is the ground
library's added latency. Times depend on the host (a shared machine moved p99
from 1.4x to 6.5x wire between runs, a bare socket just as much), so the sample
is taken REPEATS times and each figure printed as median (min..max). The plot
(``make bench-report``: docs/roundtrip-latency.png) draws this same sample.
"""

import os
import socket
import struct
import tempfile
import time

from firmware import dictionary as d
from firmware import framing, packet
from ground.client import Client
from ground.codec import build
from ground.errors import GroundError
from tests.bench import Figures, spread
from tests.sim.simproc import ROOT, Sim

BAUD = 115200
N = 100  # PINGs per repeat, each way
REPEATS = 3
PLOT = ROOT / "docs" / "roundtrip-latency.png"
_TIMEOUT = 5.0
_ACCEPTED = 1  # PUS 1 subtypes
_COMPLETED = 7


def _framed_tm(name):
    entry = d.telemetry(name)
    w = packet.TmWriter()
    n = w.finish(entry.service, entry.subtype, struct.calcsize(d.fmt(entry.fields)), 0, 0)
    return len(framing.frame(bytes(w.buf[:n])))


def _wire_ms(n_bytes):
    return n_bytes * 10 * 1000 / BAUD


def _percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _ping_times(url, seq_file):
    with Client(url, timeout=10, seq_file=seq_file) as client:
        client.send("PING")  # waits for the boot
        client.send("HK_DISABLE", d.HK_SID)  # left off: the sim stops after the run
        accepted, completed = [], []
        for _ in range(N):
            v = client.send("PING", timeout=_TIMEOUT, retries=0)
            accepted.append((v.stage("ACCEPTED").t - v.sent_at) * 1000)
            completed.append((v.stage("COMPLETED").t - v.sent_at) * 1000)
    return accepted, completed


def _raw_ping_times(url, first_seq):
    """The same exchange over a bare socket without the ground library: the board and sim alone."""
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    deframer = framing.Deframer()
    reports = {}  # PUS 1 subtype -> first arrival

    def take(buf, n):
        tm = packet.decode_tm(buf, n)
        if tm is not None and tm.service == 1:
            reports.setdefault(tm.subtype, time.perf_counter())
        return tm is not None

    accepted, completed = [], []
    with socket.create_connection((host, int(port)), timeout=_TIMEOUT) as s:
        for i in range(N):
            tc = build("PING", (), lambda i=i: first_seq + i).packet
            reports.clear()
            t0 = time.perf_counter()
            s.sendall(framing.frame(tc))
            while _COMPLETED not in reports:
                deframer.feed(s.recv(512), take)
            accepted.append((reports[_ACCEPTED] - t0) * 1000)
            completed.append((reports[_COMPLETED] - t0) * 1000)
    return accepted, completed


def _sample():
    """[(accepted, completed, raw accepted, raw completed)] per repeat, ms, on one simulated board."""
    runs = []
    with Sim("--baud", str(BAUD), app="firmware.app") as sim, tempfile.TemporaryDirectory() as tmp:
        seq_file = os.path.join(tmp, "seq")
        for r in range(REPEATS):
            with open(seq_file, "w") as f:  # client and bare socket take turns through the counts
                f.write("%d\n" % (2 * r * (N + 2)))
            try:
                accepted, completed = _ping_times(sim.ports["link"], seq_file)
                raw = _raw_ping_times(sim.ports["link"], (2 * r + 1) * (N + 2))
            except GroundError as e:  # say what the board said, if it died
                status, err = sim.stop()
                raise RuntimeError("%s; sim exit status %s: %s" % (
                    e, status, " | ".join(err.strip().splitlines()[-2:])))
            runs.append((accepted, completed, *raw))
    return runs


def run(report=False):
    runs = _sample()
    tc = len(framing.frame(build("PING", (), lambda: 0).packet))
    wire = {"acceptance": _wire_ms(tc + _framed_tm("ACCEPTED")),
            "completion": _wire_ms(tc + sum(_framed_tm(n) for n in ("ACCEPTED", "STARTED", "PONG", "COMPLETED")))}
    f = Figures("roundtrip: PING at %d baud on the simulated board, n=%d per repeat, median (min..max over %d "
                "repeats, host-dependent)" % (BAUD, N, REPEATS))
    for i, stage in ((0, "acceptance"), (1, "completion")):
        w = wire[stage]
        p50 = [_percentile(run[i], 50) for run in runs]
        p99 = [_percentile(run[i], 99) for run in runs]
        raw50 = [_percentile(run[i + 2], 50) for run in runs]
        f.add("  -> %s: wire %.2f ms; p50 %s ms (%s wire), p99 %s ms (%s wire)" % (
            stage, w, spread(p50), spread([x / w for x in p50], "%.2fx"), spread(p99),
            spread([x / w for x in p99], "%.2fx")))
        f.add("     bare socket p50 %s ms; ground library adds %s ms at p50" % (
            spread(raw50), spread([a - b for a, b in zip(p50, raw50, strict=True)])))
    if report:
        f.add("  plot: %s, the same %d PINGs" % (plot(runs).relative_to(ROOT), N * REPEATS))
    return f


def plot(runs):
    """Histograms of this sample's acceptance and completion times: docs/roundtrip-latency.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accepted = [t for run in runs for t in run[0]]
    completed = [t for run in runs for t in run[1]]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max(completed)
    bins = [top * i / 60 for i in range(61)]
    for label, times in (("ACCEPTED", accepted), ("COMPLETED", completed)):
        ax.hist(times, bins=bins, alpha=0.6, label="%s (p50 %.1f ms, p99 %.1f ms)" % (
            label, _percentile(times, 50), _percentile(times, 99)))
    ax.set_xlabel("round trip from the ground's write, ms")
    ax.set_ylabel("PINGs")
    ax.set_title("PING round trip at %d baud, n=%d (%d repeats), simulated board" % (BAUD, len(completed), len(runs)))
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    plt.close(fig)
    return PLOT


if __name__ == "__main__":
    print("\n".join(run().lines))
