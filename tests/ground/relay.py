"""A relay between a ground tool and a board's link that repeats, drops and reorders whole frames.

    with Relay(sim.ports["link"], up=Faults(repeat=1.0)) as relay:
        main(["send", relay.url, "FIRE", "1", "--yes"])     # every uplink frame arrives twice
        relay.truth(request_id)                               # what the payload said about it
        relay.cut(); relay.restore()                          # the port gone, then back (same URL)

Frames are the link's (COBS, each ending with 0x00). Each direction has its own ``Faults``:
per frame, drop it (``drop``), send it twice (``repeat``), or hold it and send it after the
next one (``reorder``; a held frame goes on alone after ``HOLD_S`` if no other follows), each
drawn from a seeded generator. Downlink packets are decoded before any fault touches them, so
the relay knows what the payload really reported about each request id: the truth the ground's
verdicts are checked against.
"""

import random
import socket
import threading
from dataclasses import dataclass

from firmware import dictionary as d
from firmware import framing
from ground import codec

HOLD_S = 0.05  # a reordered frame waits this long at most for the one to swap with


@dataclass
class Faults:
    drop: float = 0.0
    repeat: float = 0.0
    reorder: float = 0.0
    seed: int = 1


class Relay:
    def __init__(self, target_url, up=None, down=None):
        host, port = target_url.removeprefix("socket://").rsplit(":", 1)
        self._target = (host, int(port))
        self._faults = {"up": up or Faults(), "down": down or Faults()}
        self.counts = {"up": {"frames": 0, "dropped": 0, "repeated": 0, "reordered": 0},
                       "down": {"frames": 0, "dropped": 0, "repeated": 0, "reordered": 0}}
        self.reports = {}  # request id -> [(report name, code, data)] as the payload sent them
        self._lock = threading.Lock()
        self._socks = []
        self.port = 0
        self.restore()
        self.url = "socket://127.0.0.1:%d" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def restore(self):
        """Listen (again) on the relay's port."""
        server = socket.create_server(("127.0.0.1", self.port))
        self.port = server.getsockname()[1]
        with self._lock:
            self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self):
        """The port and every connection gone, as a link that drops (``restore`` brings the port back)."""
        with self._lock:  # a connection accepted from now on is closed by _accept itself
            socks = [self._server] + self._socks
            self._server, self._socks = None, []
        for s in socks:  # a shutdown wakes the accept under way: a close alone does not
            if s is not None:
                _close(s)

    close = cut

    def truth(self, rid):
        """What the payload did with ``rid``: "COMPLETED", a failure name and code, or None (not run)."""
        for name, code, _data in self.reports.get(rid, ()):
            if name == "COMPLETED":
                return "COMPLETED"
            if name.endswith("_FAILED") and name != "PROGRESS_FAILED" and code not in (d.DUPLICATE, d.STALE):
                return "%s %d" % (name, code)
        return None

    def _accept(self, server):
        while True:
            try:
                ground, _ = server.accept()
            except OSError:
                return
            board = socket.create_connection(self._target)
            with self._lock:
                stopped = self._server is not server  # cut() ran meanwhile
                if not stopped:
                    self._socks += [ground, board]
            if stopped:
                _close(ground)
                _close(board)
                return
            for name, src, dst in (("up", ground, board), ("down", board, ground)):
                threading.Thread(target=self._pump, args=(name, src, dst), daemon=True).start()

    def _pump(self, name, src, dst):
        try:
            self._relay(name, src, dst)
        finally:  # one side gone: so is the other (the board serves one client, and this one has left)
            try:
                dst.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _relay(self, name, src, dst):
        faults = self._faults[name]
        counts = self.counts[name]
        rng = random.Random("%d:%s" % (faults.seed, name))
        held = None
        rx = b""
        src.settimeout(HOLD_S)
        while True:
            try:
                data = src.recv(4096)
            except TimeoutError:
                data = None
            except OSError:
                return
            if data == b"":
                return
            if data is None:  # quiet: a held frame goes on alone
                if held:
                    _send(dst, held)
                    held = None
                continue
            rx += data
            *frames, rx = rx.split(b"\x00")
            for body in frames:
                frame = body + b"\x00"
                counts["frames"] += 1
                if name == "down":
                    self._note(body)
                out = [frame]
                if rng.random() < faults.drop:
                    counts["dropped"] += 1
                    out = []
                elif rng.random() < faults.repeat:
                    counts["repeated"] += 1
                    out = [frame, frame]
                if held:
                    out.append(held)
                    held = None
                elif out and rng.random() < faults.reorder:
                    counts["reordered"] += 1
                    held = out.pop(0)
                for f in out:
                    _send(dst, f)

    def _note(self, body):
        buf = bytearray(framing.MAX_FRAME)
        try:
            n = framing.decode_into(body, len(body), buf)
        except Exception:
            return
        rec = codec.decode(bytes(buf[:n])) if n > 0 else None
        if rec is not None and rec.service == 1 and not rec.error:
            with self._lock:
                self.reports.setdefault(rec.request_id, []).append(
                    (rec.name, rec.values.get("code"), rec.values.get("data")))


def _send(sock, frame):
    try:
        sock.sendall(frame)
    except OSError:
        pass


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
