"""A fake payload on a TCP port (``socket://``): answers telecommands as the firmware's
contract says, so the ground can be tested without the simulator.

It dedupes by request id (a repeat gets ACCEPT_FAILED DUPLICATE with the recorded
outcome, EXECUTING while a ``slow`` command runs), can ignore the next ``drop``
telecommands (a lost uplink), take every telecommand twice (``repeat``: a link
that duplicates frames), lose the reports of the next ``lose_replies`` it executes
or the next reports of one kind (``lose_stage``: a lost downlink), refuse a
command with a failure code at acceptance or at its start, stop and restart listening on
the same port (the port disappearing), and send housekeeping, events, another APID's packets
(``send_foreign``) or raw bytes on demand. PING, PARAM_GET, TIME_REPORT and
SCHED_LIST get their reports.
"""

import socket
import struct
import threading
import time

from firmware import dictionary as d
from firmware import framing, packet

_SETTLE = 0.2  # s: pyserial's socket:// open discards what already arrived; send the backlog after


def tm_packet(service, subtype, data=b"", days=0, ms=1234, seq=0):
    """One telemetry packet as the firmware writes it, with this data, on-board time and sequence count."""
    w = packet.TmWriter()
    w.seq = seq
    w.buf[packet.TM_HEADER:packet.TM_HEADER + len(data)] = data
    return bytes(w.buf[:w.finish(service, subtype, len(data), days, ms)])


def hk_values(**values):
    """The raw values of an HK report, in layout order: these, the rest idle and within limits."""
    fields = dict.fromkeys((f.name for f in d.HK_FIELDS), 0)
    fields.update(sid=d.HK_SID, temperature=250, heap_free=30000)
    fields.update(values)
    return tuple(fields.values())


def hk_data(**values):
    """The data of an HK report (see hk_values)."""
    return struct.pack(d.fmt(d.HK_FIELDS), *hk_values(**values))


class FakeFirmware:
    def __init__(self, port=0):
        self.port = port
        self.received = []  # request ids of every TC seen, repeats included
        self.tcs = []  # and their bytes
        self.executed = {}  # request id -> outcome (0 or failure code)
        self.drop = 0
        self.refuse = {}  # command name -> failure code at acceptance
        self.refuse_start = {}  # command name -> failure code at its start (after ACCEPTED)
        self.silent = set()  # command names accepted but never completed
        self.lose_replies = 0  # execute the next n TCs but lose every report about them
        self.lose_stage = {}  # PUS 1 subtype -> how many of the next such reports to lose
        self.repeat = False  # every TC arrives twice, as over a link that duplicates frames
        self.slow = {}  # command name -> s it runs before its completion report (EXECUTING meanwhile)
        self.unconfirmed_burns = 0  # FIRE: burns that fail (PROGRESS_FAILED) before one releases
        self.newest = None  # as the firmware's window: counts not after this are STALE
        self._muted = False
        self._writer = packet.TmWriter()
        self._lock = threading.Lock()
        self._conn = None  # the connection telemetry goes to, once settled
        self._accepted = None  # the latest connection, settled or not
        self._backlog = []  # telemetry sent before the ground connected: delivered on connect
        self._server = None
        self.start()

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port

    def start(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        self.port = server.getsockname()[1]
        server.listen(1)
        with self._lock:
            self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self):
        """Close the port and any connection: the ground sees the link drop."""
        with self._lock:  # a connection accepted from now on is closed by _accept itself
            server, self._server = self._server, None
            accepted, self._accepted = self._accepted, None
        if server is None:
            return
        try:  # wakes the accept() thread: close() alone leaves it blocked, and it would still take a client
            server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        server.close()
        if accepted:
            try:
                accepted.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the ground had already gone
            accepted.close()

    def _accept(self, server):
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with self._lock:
                stopped = self._server is not server  # stop() ran while accept() returned
                if not stopped:
                    self._accepted = conn
            if stopped:
                conn.close()
                return
            time.sleep(_SETTLE)
            with self._lock:
                self._conn = conn
                for data in self._backlog:
                    conn.sendall(data)
                self._backlog.clear()
            deframer = framing.Deframer()
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                deframer.feed(data, self._tc)
            with self._lock:
                self._conn = None

    # --- telemetry out -------------------------------------------------------------

    def send_raw(self, data):
        """Send bytes to the ground, or hold them until it connects."""
        if self._muted:
            return
        with self._lock:
            if self._conn:
                self._conn.sendall(data)
            else:
                self._backlog.append(data)

    def send_tm(self, service, subtype, fmt=">", *values, ms=1000, writer=None):
        w = writer or self._writer
        with self._lock:
            struct.pack_into(fmt, w.buf, packet.TM_HEADER, *values)
            raw = bytes(w.buf[:w.finish(service, subtype, struct.calcsize(fmt), 0, ms)])
        self.send_raw(framing.frame(raw))

    def send_foreign(self, apid, service, subtype, fmt=">", *values):
        """A packet of another APID, CRC and all: what a hostile or misrouted stream carries."""
        self.send_tm(service, subtype, fmt, *values, writer=packet.TmWriter(apid))

    def send_event(self, eid, *values):
        ev = d.event(eid)
        self.send_tm(5, ev.severity, ">H" + d.fmt(ev.fields)[1:], eid, *values)

    def send_hk(self, **values):
        self.send_tm(3, 25, d.fmt(d.HK_FIELDS), *hk_values(**values))

    def _report(self, subtype, rid, *rest):
        if self.lose_stage.get(subtype):
            self.lose_stage[subtype] -= 1
            return
        fmt = {5: ">IB", 6: ">IBHH"}.get(subtype, ">I" + "H" * len(rest))  # progress has a u8 step
        self.send_tm(1, subtype, fmt, rid, *rest)

    # --- telecommands in -------------------------------------------------------------

    def _tc(self, buf, n):
        for _ in range(2 if self.repeat else 1):
            self._one_tc(buf, n)
        return True

    def _one_tc(self, buf, n):
        tc = packet.Tc()
        if not tc.parse(buf, n):
            return False
        data = bytes(buf[packet.TC_HEADER:packet.TC_HEADER + tc.data_len])
        self.received.append(tc.request_id)
        self.tcs.append(bytes(buf[:n]))
        if self.drop:
            self.drop -= 1
            return True
        rid = tc.request_id
        if rid in self.executed:
            self._report(2, rid, d.DUPLICATE, self.executed[rid])
            return True
        if self.newest is not None and (self.newest - tc.seq) & 0x3FFF < 0x2000:
            self._report(2, rid, d.STALE, self.newest)
            return True
        self.newest = None if self.newest is None else tc.seq
        self._muted = self.lose_replies > 0
        self.lose_replies -= self._muted
        self._execute(tc, rid, data)
        self._muted = False
        return True

    def _execute(self, tc, rid, data):
        fid = struct.unpack_from(">H", data)[0] if tc.service == 8 else 0
        args = data[2:] if fid else data
        entry = d.command_for(tc.service, tc.subtype, fid)
        code = d.UNKNOWN_COMMAND if entry is None else self.refuse.get(entry.name, 0)
        if code:
            self.executed[rid] = code
            self._report(2, rid, code, 0)
            return
        self._report(1, rid)
        if entry.name in self.refuse_start:
            self.executed[rid] = self.refuse_start[entry.name]
            self._report(4, rid, self.refuse_start[entry.name], 0)
            return
        self._report(3, rid)
        if entry.name in self.silent:
            return
        if entry.name in self.slow:
            self.executed[rid] = d.EXECUTING
            threading.Timer(self.slow[entry.name], self._complete, (rid,)).start()
            return
        if entry.name == "PING":
            self.send_tm(17, 2)
        if entry.name == "PARAM_GET":  # every parameter at its default
            pid = struct.unpack(">H", args)[0]
            self.send_tm(20, 2, ">HI", pid, d.parameter(pid).default)
        if entry.name == "TIME_REPORT":
            self.send_tm(9, 130, ">HIB", 25000, 3600000, 1)
        if entry.name == "SCHED_LIST":  # one FIRE 2 held for 2026-06-13T01:00:00Z
            self.send_tm(11, 10, ">BIHI", 1, 0x18C1C123, 25000, 3600000)
        if entry.name == "FIRE":
            for burn in range(1, self.unconfirmed_burns + 1):  # burns the switch did not confirm
                self._report(6, rid, burn, d.NOT_CONFIRMED, args[0])
            self._report(5, rid, self.unconfirmed_burns + 1)
            self.send_event(d.EV_RELEASED, args[0], self.unconfirmed_burns + 1)
        self._complete(rid)

    def _complete(self, rid):
        self.executed[rid] = 0
        self._report(7, rid)
