"""The transport: one pyserial URL, a reader thread, reconnection, link counters.

Any URL ``serial.serial_for_url`` knows works: ``/dev/ttyACM0``, ``socket://host:port``
(sim, Renode), ``rfc2217://host:port``, ``loop://``. The first open is synchronous
and raises ``LinkError`` (a missing port is an operator mistake, said in one line);
after that the reader thread survives the port disappearing: the state goes DOWN,
it reopens with a backoff (0.1 s doubling to 2 s) and goes UP again. Bytes from
the port go through ``framing.Deframer``, which drops and counts junk; each
verified TM packet is handed to ``on_packet(raw, ground_time)``, after a check
of its 14-bit sequence count against the previous one (gaps are counted).
"""

import threading
import time

import serial

from firmware import framing, packet
from ground.errors import LinkError

UP = "UP"
DOWN = "DOWN"
CLOSED = "CLOSED"
_SEQ_MASK = 0x3FFF
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 2.0
_READ_TIMEOUT = 0.05  # s; how soon the reader notices close()
_BURST = 65536  # bytes taken at once from a socket:// port
_PORT_ERRORS = (serial.SerialException, OSError, ValueError)


class Link:
    """A framed packet link over a pyserial URL.

    ``on_packet(raw: bytes, t: float)`` runs on the reader thread for each TM;
    ``on_state(state: str)`` on every change of ``state`` (UP, DOWN, CLOSED).
    """

    def __init__(self, url, on_packet, on_state=None, baudrate=115200):
        self.url = url
        self.baudrate = baudrate
        self.state = DOWN
        self._on_packet = on_packet
        self._on_state = on_state or (lambda state: None)
        self._port = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = None
        self._resync = True  # lead the next TC with a delimiter: the far end drops any partial frame
        self._last_seq = None
        self.deframer = framing.Deframer()
        self.rx_packets = 0
        self.tm_gaps = 0  # sequence count jumps seen
        self.tm_lost = 0  # packets missing by those jumps
        self.reconnects = 0
        self.rx_bytes = 0
        self.tx_bytes = 0

    def open(self):
        """Open the port (LinkError if it cannot be) and start the reader thread."""
        self._connect()
        self._thread = threading.Thread(target=self._run, name="ground-link", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self._closed.set()
        if self._thread:
            self._thread.join(2.0)
        self._drop(CLOSED)

    def write(self, raw):
        """Send one packet, framed; LinkError if the link is down."""
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
                self._port = None
                raise LinkError("link to %s dropped while sending: %s" % (self.url, e))
            self._resync = False
            self.tx_bytes += len(data)

    def counters(self):
        """Link health as numbers, for the console header and ``monitor``."""
        f = self.deframer
        return {"rx_packets": self.rx_packets, "crc_errors": f.crc_errors, "oversize": f.oversize,
                "undecodable": f.undecodable, "tm_gaps": self.tm_gaps, "tm_lost": self.tm_lost,
                "reconnects": self.reconnects}

    # --- reader thread -------------------------------------------------------------

    def _connect(self):
        try:
            port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=_READ_TIMEOUT)
        except _PORT_ERRORS as e:
            raise LinkError("cannot open %s: %s" % (self.url, e))
        with self._lock:
            self._port = port
            self._resync = True
        self._set_state(UP)
        return port

    def _drop(self, state=DOWN):
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except _PORT_ERRORS:
                pass
        self._set_state(state)

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self._on_state(state)

    def _run(self):
        while not self._closed.is_set():
            port = self._port
            if port is None:
                if reconnect(self._connect, self._closed) is not None:
                    self.reconnects += 1
                continue
            try:
                data = port.read(port.in_waiting or 1)
                if data and self.url.startswith("socket://"):
                    data += _rest(port)
            except _PORT_ERRORS:
                if not self._closed.is_set():
                    self._drop()
                continue
            if data:
                self.rx_bytes += len(data)
                self.deframer.feed(data, self._handle)

    def _handle(self, buf, n):
        t = time.time()
        raw = bytes(buf[:n])
        tm = packet.decode_tm(raw, n)
        if tm is None:
            return False  # counted by the deframer as undecodable
        if self._last_seq is not None and tm.seq != (self._last_seq + 1) & _SEQ_MASK:
            self.tm_gaps += 1
            self.tm_lost += (tm.seq - self._last_seq - 1) & _SEQ_MASK
        self._last_seq = tm.seq
        self.rx_packets += 1
        self._on_packet(raw, t)
        return True


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


def _rest(port):
    """The rest of what a socket:// port holds: its in_waiting says only 0 or 1 (pyserial's
    protocol_socket.py), and a byte per read costs a system call or two per byte."""
    port.timeout = 0
    try:
        return port.read(_BURST)
    finally:
        port.timeout = _READ_TIMEOUT
