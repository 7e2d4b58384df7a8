"""The transport: one pyserial URL, a reader, reconnection, link counters.

Any URL ``serial.serial_for_url`` knows works: ``/dev/ttyACM0``, ``socket://host:port``
(sim, Renode), ``rfc2217://host:port``, ``loop://``. The first open is synchronous
and raises ``LinkError`` (a missing port is an operator mistake, said in one line;
a malformed URL is a ``UsageError``); after that the link survives the port
disappearing: the state goes DOWN, a thread reopens it with a backoff (0.1 s doubling
to 2 s) and it goes UP again. A failed write loses the port the same way (the reader
closes it and reopens one: a port still open would keep its flock, or its far end's
one client, from the next).

The reader is a thread of the Link's own, or, given an asyncio ``loop`` (the ground
server's), that loop: it reads the port's file descriptor when it is readable
(``loop.add_reader``: a socket:// port's socket, a serial port's fd), so that a frame
is decoded, and its news written to the server's clients, on the loop's thread without
a hand-off from another thread. A port without a file descriptor (``loop://``,
``rfc2217://``) is read by the thread even then.

Bytes from the port go through ``framing.Deframer``, which drops and counts junk;
each verified TM packet is handed to ``on_packet(raw, ground_time)``.

One tool per link. The payload's UART (like any serial port) serves one client, so a
Link holds a lock on its URL for as long as it is open: a second ground tool on this
machine given the same URL is refused at once, naming the tool that has it
(``LinkTaken``). A serial device is also opened with ``exclusive=True`` (pyserial's
flock), which keeps out any other program. The sim refuses a second TCP client
(sim/README.md); Renode's server socket terminal accepts one client and leaves the
next one connected but unserved until the first leaves (renode-infrastructure
src/Emulator/Main/Utilities/SocketServerProvider.cs: listen backlog 1, line 38; the
listener joins the client's reader and writer threads before it accepts again, lines
385-449), which is why the lock, not the far end, tells a second tool.

Sequence counts (14 bits, the payload's APID only; another APID's packets are
counted as ``foreign`` and handed on for the codec to show as such): the next count
is in order; the same count again is a repeat; a count ahead is a gap of the packets
between (``tm_gaps``, ``tm_lost``); a count behind is a step back (``tm_back``: late, or
the payload restarted its count after a reset, which the next count in order from it
confirms). Neither a repeat nor a step back is counted as lost.
"""

import fcntl
import hashlib
import os
import select
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

import serial

from firmware import dictionary as d
from firmware import framing, packet
from ground.errors import LinkError, UsageError

UP = "UP"
DOWN = "DOWN"
CLOSED = "CLOSED"
_SEQ_MASK = 0x3FFF
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 2.0
_READ_TIMEOUT = 0.05  # s; how soon the reader notices close()
_BURST = 65536  # bytes taken at once from a socket:// port
_HALF = 0x2000  # a count up to this far ahead is a gap; further is behind
_PORT_ERRORS = (serial.SerialException, OSError, ValueError)
_AT_ONCE = 1.0  # s: the far end closing this soon after a connect, before a byte, refused us
_REFUSED = "the far end closed the connection at once: it serves one client, and another one has it"


class LinkTaken(LinkError):
    """Another ground tool on this machine has the link open."""


class Link:
    """A framed packet link over a pyserial URL.

    ``on_packet(raw: bytes, t: float)`` runs on the reader (thread, or ``loop``) for each TM;
    ``on_state(state: str)`` on every change of ``state`` (UP, DOWN, CLOSED), on the reader
    or the thread that reopens the port. With a ``loop``, close the Link on the loop's thread.
    """

    def __init__(self, url, on_packet, on_state=None, baudrate=115200, loop=None):
        self.url = url
        self.baudrate = baudrate
        self.state = DOWN
        self._on_packet = on_packet
        self._on_state = on_state or (lambda state: None)
        self._port = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = None  # the reader, or (with a loop) the last to reopen the port
        self._loop = loop
        self._watched = None  # the file descriptor the loop reads, while it does
        self._backoff = _BACKOFF_MIN  # the wait after a drop; grows while the far end keeps refusing us
        self._resync = True  # lead the next TC with a delimiter: the far end drops any partial frame
        self._write_error = None  # why a write to the port failed, until the reader has lost it
        self._last_seq = None  # the count of the stream being followed
        self._behind = None  # the count of the last step back: the next in order from it is a restart
        self._lock_file = None
        self._connected_at = 0.0
        self._rx_at_connect = 0
        self.down_reason = ""  # why the state last went DOWN, in words
        self.deframer = framing.Deframer()
        self.rx_packets = 0  # the payload's packets
        self.foreign = 0  # verified packets of another APID
        self.tm_gaps = 0  # sequence count jumps ahead seen
        self.tm_lost = 0  # packets missing by those jumps
        self.tm_repeated = 0  # the same count twice in a row
        self.tm_back = 0  # a count behind the one before
        self.reconnects = 0
        self.rx_bytes = 0
        self.tx_bytes = 0

    def open(self):
        """Open the port (LinkError if it cannot be, LinkTaken if another tool has it) and start reading."""
        _check_url(self.url)
        self._lock_file = _take(self.url)
        try:
            port = self._connect()
        except LinkError:
            self._release()
            raise
        if self._loop is None or _fileno(port, self.url) is None:
            self._loop = None
            self._thread = threading.Thread(target=self._run, name="ground-link", daemon=True)
            self._thread.start()
        else:
            self._watch()
        return self

    def close(self):
        self._closed.set()
        self._unwatch()
        if self._thread:
            self._thread.join(2.0)
        self._drop(CLOSED)
        self._release()

    def describe(self, holder):
        """Say who holds this link to a second tool it refuses (by default: this pid and tool)."""
        if self._lock_file is not None:
            _write_holder(self._lock_file, holder)

    def _release(self):
        f, self._lock_file = self._lock_file, None
        if f is not None:
            f.close()  # the flock goes with it

    def write(self, raw, resync=False):
        """Send one packet, framed; LinkError if the link is down. ``resync`` leads it with a
        delimiter, as the first write after a (re)connect is: a resend follows a silence that may
        be a loss, and a loss can leave the head of a torn frame in the payload's deframer,
        which would take the resend in as its tail."""
        self._resync |= resync
        self.write_raw(framing.frame(raw))

    def write_raw(self, data):
        """Send bytes as they are (tests: noise that is not even a frame); LinkError if down."""
        with self._lock:
            port = self._port
            if port is None:
                raise LinkError("link to %s is down" % self.url)
            data = (b"\x00" if self._resync else b"") + bytes(data)
            try:
                port.write(data)
            except _PORT_ERRORS as e:
                error = e
            else:
                self._resync = False
                self.tx_bytes += len(data)
                return
        self._write_failed(port, error)
        raise LinkError("link to %s dropped while sending: %s" % (self.url, error))

    def _write_failed(self, port, error):
        """A write to ``port`` failed: the reader loses it as when a read fails (DOWN, closed,
        reopened; every change of state stays on the reader), with this error as the reason."""
        with self._lock:
            if port is not self._port:
                return  # lost already
            self._write_error = error
        if self._loop is None:
            try:
                port.close()  # the reader's next read fails on it
            except _PORT_ERRORS:
                pass
            return
        try:  # the loop must be told: it would never hear of a closed file descriptor
            self._loop.call_soon_threadsafe(self._lost_watched, port, error)
        except RuntimeError:
            pass  # the loop is closed, and this link with it

    def counters(self):
        """Link health as numbers, for the console header, ``monitor`` and ``record``."""
        f = self.deframer
        return {"rx_packets": self.rx_packets, "crc_errors": f.crc_errors, "oversize": f.oversize,
                "undecodable": f.undecodable, "foreign": self.foreign, "tm_gaps": self.tm_gaps,
                "tm_lost": self.tm_lost, "tm_repeated": self.tm_repeated, "tm_back": self.tm_back,
                "reconnects": self.reconnects}

    # --- the reader ----------------------------------------------------------------

    def _connect(self):
        try:
            port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=_READ_TIMEOUT, exclusive=True)
        except _PORT_ERRORS as e:
            if "exclusively lock" in str(e):
                raise LinkTaken("%s is taken: another program has the serial port open" % self.url)
            raise LinkError("cannot open %s: %s" % (self.url, e))
        sock = _socket_of(port, self.url)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a TC leaves now, not after an ACK
        with self._lock:
            self._port = port
            self._resync = True
            self._connected_at = time.monotonic()
            self._rx_at_connect = self.rx_bytes
        self._set_state(UP)
        return port

    def _drop(self, state=DOWN, reason="", port=None):
        """Close the port (given ``port``: only if it is still that one) and set ``state``."""
        with self._lock:
            if port is not None and port is not self._port:
                return  # already dropped (a read and a write failed together), or reopened since
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except _PORT_ERRORS:
                pass
        if state == DOWN and state != self.state:
            self.down_reason = reason
        self._set_state(state)

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self._on_state(state)

    def _run(self):
        """The reader thread: read, and after a loss reopen."""
        while not self._closed.is_set():
            port = self._port
            if port is None:
                self._reopen()
                continue
            try:
                data = self._read(port, wait=True)
            except _PORT_ERRORS as e:
                if not self._closed.is_set():
                    self._lost(e, port)
                    self._closed.wait(self._backoff)
                continue
            self._feed(data)

    def _watch(self):
        """The loop reads the port from now on (on the loop's thread)."""
        port = self._port
        if port is None or self._closed.is_set():
            return
        self._watched = _fileno(port, self.url)
        self._loop.add_reader(self._watched, self._readable, port)

    def _unwatch(self):
        if self._watched is not None:
            self._loop.remove_reader(self._watched)
            self._watched = None

    def _readable(self, port):
        """The loop's reader: what ``port`` holds now; after a loss, a thread reopens the port."""
        try:
            data = self._read(port, wait=False)
        except _PORT_ERRORS as e:
            self._lost_watched(port, e)
            return
        self._feed(data)

    def _lost_watched(self, port, error):
        """On the loop: the port it reads failed (a read, or a write on any thread); a thread reopens it."""
        if port is not self._port or self._closed.is_set():
            return  # already lost (a read and a write failed together), or the link closed
        self._unwatch()
        self._lost(error, port)
        self._thread = threading.Thread(target=self._reopen_later, name="ground-link", daemon=True)
        self._thread.start()

    def _reopen_later(self):
        self._closed.wait(self._backoff)
        if self._reopen():
            self._loop.call_soon_threadsafe(self._watch)

    def _reopen(self):
        """Open the port again (waiting while it cannot be); False if closed meanwhile."""
        if reconnect(self._connect, self._closed) is None:
            return False
        self.reconnects += 1
        return True

    def _lost(self, error, port):
        """``port`` failed: DOWN, and the wait before reopening it set."""
        refused = self._refused()
        error, self._write_error = self._write_error or error, None  # a failed write says why first
        self._drop(DOWN, _REFUSED if refused else str(error), port)
        # a far end that refuses us is asked again later and later, never in a loop
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX) if refused else _BACKOFF_MIN

    def _feed(self, data):
        if data:
            self.rx_bytes += len(data)
            self.deframer.feed(data, self._handle)

    def _read(self, port, wait):
        """What ``port`` holds (``wait``: for up to _READ_TIMEOUT s; b"" if nothing came)."""
        sock = _socket_of(port, self.url)
        return port.read(port.in_waiting or 1) if sock is None else self._receive(sock, wait)

    def _receive(self, sock, wait):
        """What a socket:// port holds: one select (if ``wait``) and one recv. The sim and Renode
        send each byte when the line carries it, so the reader wakes about once a byte: pyserial's
        read (a Timeout object, a select for ``in_waiting``, a second read for the rest) cost that
        wake-up, under the GIL, several times over."""
        if wait and not select.select([sock], [], [], _READ_TIMEOUT)[0]:
            return b""
        try:
            data = sock.recv(_BURST)
        except BlockingIOError:
            return b""
        if not data:
            raise OSError("the far end closed the connection")
        return data

    def _refused(self):
        """The far end closed the connection at once, before sending a byte: it serves another client."""
        return self.rx_bytes == self._rx_at_connect and time.monotonic() - self._connected_at < _AT_ONCE

    def _handle(self, buf, n):
        t = time.time()
        raw = bytes(buf[:n])
        tm = packet.decode_tm(raw, n)
        if tm is None:
            return False  # counted by the deframer as undecodable
        if tm.apid == d.APID:
            self._count(tm.seq)
            self.rx_packets += 1
        else:
            self.foreign += 1
        self._on_packet(raw, t)
        return True

    def _count(self, seq):
        """Follow the payload's sequence count (see the module doc)."""
        last = self._last_seq
        if last is None or seq == (last + 1) & _SEQ_MASK:
            self._last_seq, self._behind = seq, None
        elif seq == last:
            self.tm_repeated += 1
        elif self._behind is not None and seq == (self._behind + 1) & _SEQ_MASK:
            self._last_seq, self._behind = seq, None  # the count restarted: follow it
        elif (seq - last) & _SEQ_MASK < _HALF:
            self.tm_gaps += 1
            self.tm_lost += (seq - last - 1) & _SEQ_MASK
            self._last_seq, self._behind = seq, None
        else:
            self.tm_back += 1
            self._behind = seq


def reconnect(connect, closed):
    """``connect()`` again until it does not raise LinkError, 0.1 s doubling to 2 s apart;
    what it returned, or None once ``closed`` (a threading.Event) is set."""
    backoff = _BACKOFF_MIN
    while not closed.is_set():
        try:
            return connect()
        except LinkError:
            closed.wait(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)
    return None


def _socket_of(port, url):
    """The TCP socket under a socket:// port (pyserial's protocol_socket keeps it as ``_socket``), else None."""
    return getattr(port, "_socket", None) if url.startswith("socket://") else None


def _fileno(port, url):
    """The file descriptor that becomes readable when ``port`` has bytes, or None (``loop://``, ``rfc2217://``)."""
    sock = _socket_of(port, url)
    if sock is not None:
        return sock.fileno()
    try:
        return port.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _check_url(url):
    """A malformed URL is a usage mistake, said in words (pyserial's own messages are its internals)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "socket":
        return
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port:
        raise UsageError("bad link URL %r: expected socket://HOST:PORT, PORT from 1 to 65535" % url)


def _lock_dir():
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = os.path.join(base, "payload-ground-%d" % os.getuid())
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


def _take(url):
    """Lock ``url`` for this process (an open file holding a flock); LinkTaken if another has it."""
    key = os.path.realpath(url) if os.path.exists(url) else url
    try:
        path = os.path.join(_lock_dir(), hashlib.sha1(key.encode()).hexdigest()[:16] + ".lock")
        f = open(path, "a+")  # noqa: SIM115  (held open while the link is)
    except OSError:
        return None  # no place for locks: the far end is left to refuse
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another ground tool"
        f.close()
        raise LinkTaken("%s is taken by %s: one tool per link (close it, or use the ground server)"
                        % (url, holder))
    _write_holder(f, "pid %d (%s)" % (os.getpid(), _tool()))
    return f


def _write_holder(f, holder):
    f.seek(0)
    f.truncate()
    f.write(holder)
    f.flush()


def _tool():
    """What this process is, for the refusal a second tool gets: ``ground monitor``, ``pytest``."""
    argv = sys.argv if sys.argv and sys.argv[0] else ["python"]
    name = os.path.basename(argv[0])
    if name == "__main__.py":  # python -m ground
        name = os.path.basename(os.path.dirname(argv[0]))
    return " ".join([name] + argv[1:2])
