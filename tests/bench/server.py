"""Ground server figures (issue 15): added latency, fan-out, archive rate.

- Added latency: two simulated boards at 115200 baud (housekeeping off), one used
  directly by a Client on its link, the other through ``ground serve`` (its own
  process); PINGs alternate between them, so host noise falls on both alike. Each is
  timed in the script, from ``send`` to its return with COMPLETED.
- Fan-out: a board at 921600 baud sending housekeeping continuously (HK_PERIOD 0),
  ``ground serve`` on it, and windows with 1 and with ``FANOUT`` clients reading every
  message (light readers in this process). The frames of a window are those the server
  received in it (by the ground time it stamped); a client missed those it never read.
  The server's CPU time (user + system, /proc) per frame, and per frame per added client
  (the difference of the medians: host noise is of that order).
- Archive: rows stored and committed per second by ``Archive`` (its writer thread,
  transactions every ``COMMIT_WINDOW``), against the HK frames per second that a
  921600-baud line carries.

Every figure here is a time, so it depends on the host: each is printed against the aim
it should meet (met, or not met), and none fails ``make bench`` (tests/bench/targets.md).
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from firmware import dictionary as d
from firmware import framing
from ground import protocol
from ground.archive import COMMIT_WINDOW, Archive
from ground.client import Client
from tests.bench import Figures
from tests.bench.roundtrip import _percentile
from tests.ground.fakefw import hk_data, tm_packet
from tests.sim.simproc import ROOT, Sim

N_PINGS = 200
AIM_P50_MS = 0.5  # added by the server, over the direct link
AIM_P99_MS = 2.0
FANOUT = 16
FANOUT_BAUD = 921600
WINDOW_S = 4.0
ROUNDS = 3  # windows of each kind, alternating: the median per-frame CPU of each
ARCHIVE_ROWS = 50000
AIM_ARCHIVE = 10  # times the line's frame rate
_CLK = os.sysconf("SC_CLK_TCK")


class _Tool:
    """``ground ARGS`` in its own process (state in ``tmp``), its CPU time read from /proc."""

    def __init__(self, tmp, *args):
        env = dict(os.environ, XDG_STATE_HOME=tmp, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "ground", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK  # utime, stime


class _Server(_Tool):
    """``ground serve`` on ``link_url``, its archive in ``tmp``."""

    def __init__(self, link_url, tmp):
        super().__init__(tmp, "serve", link_url, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "server.sqlite"))
        line = self.proc.stdout.readline()
        if not line.startswith("server: "):
            raise RuntimeError("ground serve did not start: %s" % self.proc.stderr.read())
        self.url = line.split()[1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def _ping_ms(client):
    t0 = time.perf_counter()
    client.send("PING", timeout=5, retries=0)
    return (time.perf_counter() - t0) * 1000


def _latency(tmp):
    with Sim(app="firmware.app") as direct_board, Sim(app="firmware.app") as served_board:
        server = _Server(served_board.ports["link"], tmp)
        try:
            with Client(direct_board.ports["link"], timeout=10, seq_file=os.path.join(tmp, "direct_seq")) as direct, \
                    Client(server.url, name="bench", timeout=10) as served:
                served.take()
                for c in (direct, served):
                    c.send("PING")  # waits for the boot
                    c.send("HK_DISABLE", d.HK_SID)
                times = {direct: [], served: []}
                for i in range(N_PINGS):
                    for c in (direct, served) if i % 2 else (served, direct):
                        times[c].append(_ping_ms(c))
        finally:
            server.stop()
    a, b = times[direct], times[served]
    p50, p99 = (_percentile(b, 50) - _percentile(a, 50)), (_percentile(b, 99) - _percentile(a, 99))
    ok = p50 <= AIM_P50_MS and p99 <= AIM_P99_MS
    return ["  direct on the link:      p50 %6.2f ms, p99 %6.2f ms" % (_percentile(a, 50), _percentile(a, 99)),
            "  through ground serve:    p50 %6.2f ms, p99 %6.2f ms" % (_percentile(b, 50), _percentile(b, 99)),
            "  added by the server:     p50 %+6.2f ms, p99 %+6.2f ms [aim p50 <= %.1f ms, p99 <= %.1f ms: %s]"
            % (p50, p99, AIM_P50_MS, AIM_P99_MS, _met(ok))]


def _met(ok):
    return "met" if ok else "not met (host-dependent: no fail)"


async def _reader(url, name, stop):
    """A client reading every message until ``stop``: ({TM sequence count: server receipt time}, drops)."""
    reader, writer = await asyncio.open_connection(*protocol.parse_url(url), limit=1 << 20)
    writer.write(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": name}))
    seen, dropped = {}, 0
    while not stop.is_set():
        line = await reader.readline()
        if line.startswith(b'{"type":"tm"'):
            head = line[:line.index(b'"raw"')]  # {"type":"tm","t":...,
            at = line.index(b'"seq":') + 6
            seen[int(line[at:line.index(b",", at)])] = float(head[17:-1])
        elif line.startswith(b'{"type":"status"'):
            dropped = json.loads(line)["dropped"]
    writer.close()
    return seen, dropped


async def _fanout_window(server, n):
    """(server CPU s, window s, frames the server received in it, frames each client missed of those)."""
    stop = asyncio.Event()
    readers = [asyncio.create_task(_reader(server.url, "reader %d" % i, stop)) for i in range(n)]
    await asyncio.sleep(1.0)  # everyone past the snapshot
    cpu0, t0 = server.cpu_s(), time.time()
    await asyncio.sleep(WINDOW_S)
    cpu, t1 = server.cpu_s() - cpu0, time.time()
    await asyncio.sleep(1.0)  # everyone has read what the server received in the window
    stop.set()
    results = await asyncio.wait_for(asyncio.gather(*readers), 10)
    window = [{seq for seq, t in seen.items() if t0 <= t < t1} for seen, _dropped in results]
    frames = set().union(*window)
    return cpu, t1 - t0, len(frames), [len(frames - got) for got in window], sum(d for _s, d in results)


def _alone(link_url, tmp):
    """CPU s per frame of one tool alone on the link, decoding and archiving all: ``ground record``."""
    db = os.path.join(tmp, "alone.sqlite")
    record = _Tool(tmp, "record", link_url, "--db", db, "--duration", str(WINDOW_S + 3))
    time.sleep(1.5)  # past its start
    cpu0, t0 = record.cpu_s(), time.time()
    time.sleep(WINDOW_S)
    cpu, t1 = record.cpu_s() - cpu0, time.time()
    record.proc.wait(30)
    archive = Archive(db)
    frames = sum(t0 <= r.t < t1 for r in archive.rows())
    archive.close()
    return cpu / frames


def _fanout(tmp):
    lines = ["  fan-out, HK continuous at %d baud, %g s windows alternating 1 and %d clients, "
             "CPU (user + system) from /proc" % (FANOUT_BAUD, WINDOW_S, FANOUT)]
    per_frame = {1: [], FANOUT: []}
    with Sim("--baud", str(FANOUT_BAUD), app="firmware.app") as board:
        with Client(board.ports["link"], timeout=10, seq_file=os.path.join(tmp, "alone_seq")) as c:
            c.send("PING")
            c.send("HK_PERIOD", d.HK_SID, 0)
        alone = _alone(board.ports["link"], tmp)
        lines.append("  ground record alone on the link (decode, archive): %5.1f us per frame" % (alone * 1e6))
        server = _Server(board.ports["link"], tmp)
        try:
            with Client(server.url, name="bench", timeout=10) as c:
                c.take()
                for n in (1, FANOUT) * ROUNDS:
                    cpu, elapsed, frames, missed, dropped = asyncio.run(_fanout_window(server, n))
                    per_frame[n].append(cpu / frames)
                    lines.append("  %2d client%s: %5.0f frames/s, frames missed by the worst client %d (dropped by "
                                 "the server %d); server CPU %.2f s per s, %5.1f us per frame" % (
                                     n, " " if n == 1 else "s", frames / elapsed, max(missed), dropped,
                                     cpu / elapsed, cpu / frames * 1e6))
                c.send("HK_PERIOD", d.HK_SID, 1000)
        finally:
            server.stop()
    one, many = statistics.median(per_frame[1]), statistics.median(per_frame[FANOUT])
    spread = max(max(v) - min(v) for v in per_frame.values())
    lines.append("  medians: %.1f us per frame with 1 client, %.1f with %d: each added client %+.1f us per frame "
                 "(windows of one kind spread over %.1f us: host noise)" % (
                     one * 1e6, many * 1e6, FANOUT, (many - one) / (FANOUT - 1) * 1e6, spread * 1e6))
    return lines


def _archive(tmp):
    raw = tm_packet(3, 25, hk_data())
    archive = Archive(os.path.join(tmp, "rate.sqlite"))
    archive.start_session("bench://")
    t0 = time.perf_counter()
    for i in range(ARCHIVE_ROWS):
        archive.store(raw, t0 + i * 1e-3)
    archive.flush()
    rate = ARCHIVE_ROWS / (time.perf_counter() - t0)
    archive.close()
    line_rate = FANOUT_BAUD / 10 / len(framing.frame(raw))
    return ["  archive, %d HK rows stored and committed (transactions every %g s, synchronous=FULL)"
            % (ARCHIVE_ROWS, COMMIT_WINDOW),
            "  %8.0f rows/s = %.0fx the %.0f HK frames/s of a %d-baud line [aim >= %dx: %s]"
            % (rate, rate / line_rate, line_rate, FANOUT_BAUD, AIM_ARCHIVE, _met(rate >= AIM_ARCHIVE * line_rate))]


def run(report=False):
    f = Figures("server: the ground server's added latency (PING completion at 115200 baud, n=%d each, "
                "interleaved A/B on two boards), fan-out and archive rate (host-dependent)" % N_PINGS)
    with tempfile.TemporaryDirectory() as tmp:
        for line in _latency(tmp) + _fanout(tmp) + _archive(tmp):
            f.add(line)
    return f
