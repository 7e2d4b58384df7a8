"""Command round trip against the simulated board at 115200 baud: PUS 17 ping, p50 and p99.

Each PING is timed from the ground's write to the ground's receipt of its
ACCEPTED and of its COMPLETED report, and set next to the wire time of the
bytes involved (the framed TC, then every framed report up to that stage, at
10 bits per byte on 8N1). Periodic housekeeping is switched off for the run, so
that only the command's own bytes share the line. The same exchange over a bare
socket (no ground library) shows how much of the time is the board's and sim's.
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
from tests.sim.simproc import Sim

BAUD = 115200
N = 200
TARGET_P50 = 1.2  # times wire time
TARGET_P99 = 1.5
_TIMEOUT = 5.0
_RAW_SEQ = 0x2000  # sequence counts of the bare-socket run
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


def _raw_ping_times(url):
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
            tc = build("PING", (), lambda i=i: _RAW_SEQ + i).packet
            reports.clear()
            t0 = time.perf_counter()
            s.sendall(framing.frame(tc))
            while _COMPLETED not in reports:
                deframer.feed(s.recv(512), take)
            accepted.append((reports[_ACCEPTED] - t0) * 1000)
            completed.append((reports[_COMPLETED] - t0) * 1000)
    return accepted, completed


def run():
    with Sim("--baud", str(BAUD), app="firmware.app") as sim:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                seq_file = os.path.join(tmp, "seq")
                with open(seq_file, "w") as f:
                    f.write("0\n")  # the client's request ids stay clear of _RAW_SEQ..
                accepted, completed = _ping_times(sim.ports["link"], seq_file)
            raw_accepted, raw_completed = _raw_ping_times(sim.ports["link"])
        except GroundError as e:  # say what the board said, if it died
            status, err = sim.stop()
            raise RuntimeError("%s; sim exit status %s: %s" % (e, status, " | ".join(err.strip().splitlines()[-2:])))
    tc = len(framing.frame(build("PING", (), lambda: 0).packet))
    wire_accept = _wire_ms(tc + _framed_tm("ACCEPTED"))
    wire_complete = _wire_ms(tc + sum(_framed_tm(n) for n in ("ACCEPTED", "STARTED", "PONG", "COMPLETED")))
    lines = []
    for stage, times, raw, wire in (("acceptance", accepted, raw_accepted, wire_accept),
                                    ("completion", completed, raw_completed, wire_complete)):
        p50, p99 = _percentile(times, 50), _percentile(times, 99)
        verdict = "ok" if p50 <= TARGET_P50 * wire and p99 <= TARGET_P99 * wire else "MISSES TARGET"
        lines.append("roundtrip PING -> %s at %d baud, n=%d: p50 %.2f ms (%.2fx wire), p99 %.2f ms (%.2fx wire), "
                     "wire %.2f ms [target p50 <= %.1fx, p99 <= %.1fx: %s]; bare socket, no ground library: "
                     "p50 %.2f ms, p99 %.2f ms" % (stage, BAUD, N, p50, p50 / wire, p99, p99 / wire, wire,
                                                  TARGET_P50, TARGET_P99, verdict,
                                                  _percentile(raw, 50), _percentile(raw, 99)))
    return lines
