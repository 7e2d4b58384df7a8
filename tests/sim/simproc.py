"""Runs ``python -m sim`` as a subprocess and talks to it as the HIL suite does:
through the link (a TCP socket or the pty) and the control channel only."""

import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from firmware import framing
from firmware.framing import Deframer
from firmware.packet import decode_tm, encode_tc

ROOT = Path(__file__).resolve().parents[2]
PROBE = str(Path(__file__).with_name("probe_app.py"))
START_S = 15.0
BOOT_TIMEOUT = 30.0  # s: a first boot formats the flash, whose sector erases stall the sim as they stall the board


def wait_for(predicate, timeout, what):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


class Link:
    """A byte stream with a line reader and a timeout (socket or pty fd)."""

    def __init__(self, recv, send, close):
        self._recv, self._send, self._close = recv, send, close
        self.rx = b""

    @classmethod
    def tcp(cls, url):
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=5)
        s.settimeout(0.05)
        return cls(lambda: s.recv(4096), s.sendall, s.close)

    def send(self, data):
        self._send(data)

    def read_until(self, predicate, timeout):
        """Read until ``predicate(self.rx)`` is truthy; returns its value."""
        end = time.monotonic() + timeout
        while not (found := predicate(self.rx)):
            if time.monotonic() > end:
                raise AssertionError("link: timed out, received %r" % self.rx[-200:])
            try:
                self.rx += self._recv()
            except (TimeoutError, BlockingIOError):
                pass
        return found

    def line(self, timeout=5.0):
        self.read_until(lambda rx: b"\n" in rx, timeout)
        line, self.rx = self.rx.split(b"\n", 1)
        return line.decode()

    def ask(self, command, timeout=5.0):
        self.send(command.encode() + b"\n")
        return self.line(timeout)

    def close(self):
        self._close()


class Sim:
    def __init__(self, *args, app=PROBE, seed=1):
        argv = [sys.executable, "-m", "sim", "--seed", str(seed), "--app", app, *args]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = queue.Queue()
        self.stdout = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.ports = {}
        while len(self.ports) < 2 + ("--pty" in args):
            line = self.out.get(timeout=START_S)
            if line is None:
                raise AssertionError("sim exited: %s" % self.proc.stderr.read())
            key, value = line.split(": ", 1)
            self.ports[key] = value
        host, port = self.ports["control"].removeprefix("tcp://").rsplit(":", 1)
        self._ctl = socket.create_connection((host, int(port)), timeout=10).makefile("rw")

    def _drain(self):
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.out.put(line.strip())
        self.out.put(None)

    def control(self, cmd, **args):
        """The raw answer to one request."""
        try:
            self._ctl.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self._ctl.flush()
            line = self._ctl.readline()
        except OSError:
            line = ""
        if not line:
            raise AssertionError("the sim closed its control channel (exit status %s)" % self.proc.poll())
        return json.loads(line)

    def do(self, cmd, **args):
        """Like ``control`` but fails the test unless the answer is ok."""
        answer = self.control(cmd, **args)
        assert answer["ok"], answer
        return answer

    def link(self):
        return Link.tcp(self.ports["link"])

    def probe_link(self, link=None):
        """A link to the probe app, past whatever part of its boot line reached us."""
        link = link or self.link()
        link.send(b"echo up\n")
        link.read_until(lambda rx: b"echo up\n" in rx, 5)
        link.rx = link.rx.split(b"echo up\n", 1)[1]
        return link

    def stop(self, sig=signal.SIGINT, timeout=10):
        """Stop the sim as an operator would (Ctrl-C); returns (status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout):
        """Wait for the sim to end; returns (status, stderr)."""
        try:
            self.proc.wait(timeout)
        finally:
            with contextlib.suppress(OSError):  # unsent bytes to a sim that is gone
                self._ctl.close()
        return self.proc.returncode, self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def pty_link(path):
    """A Link over the sim's pty, opened with pyserial like a real serial device."""
    import serial

    port = serial.serial_for_url(path, baudrate=115200, timeout=0.05)
    return Link(port.read, port.write, port.close)


class PusLink:
    """Telecommands out, decoded telemetry in, over a Link (the firmware's own codec)."""

    def __init__(self, link):
        self.link = link
        self.deframer = Deframer()
        self.seq = 0
        self.tms = []

    def send(self, service, subtype, data=b""):
        """Send one TC; returns its request id."""
        self.seq += 1
        tc = encode_tc(service, subtype, data, seq=self.seq)
        self.link.send(framing.frame(tc))
        return int.from_bytes(tc[:4], "big")

    def _take(self, buf, n):
        self.tms.append(decode_tm(buf, n))
        return True

    def wait(self, predicate, timeout, what):
        """The first TM received so far or within ``timeout`` that matches ``predicate``."""

        def found(_):
            rx, self.link.rx = self.link.rx, b""
            self.deframer.feed(rx, self._take)
            return next((tm for tm in self.tms if predicate(tm)), None)

        try:
            return self.link.read_until(found, timeout)
        except AssertionError:
            raise AssertionError("no %s within %.1f s; got %s" % (what, timeout, self.tms[-10:])) from None
