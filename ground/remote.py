"""A Client through the ground server (``ground://HOST:PORT``): the API of a Client on a link.

``Client("ground://127.0.0.1:7010")`` is a ``ServerClient``. The server owns the link,
the request-id sequence, the retries and the verification of every command; this
client never opens the link. It mirrors what the server says (ground/protocol.py):
records (decoded once, by the server), the link's state and counters, every command
(its own and the other clients', each with its ``owner``), approvals and notices.
Commanding needs command authority: ``take()`` (``take(force=True)`` takes it over;
the server logs that), ``release()``; ``authority`` names the holder.

A reader thread takes the server's messages; a request (command, take, approve,
query) is written from the caller's thread and waits for its reply. If the
connection drops, ``link.state`` goes DOWN, commands in flight end TIMEOUT (the
server may well have sent them: outcome unknown) and the client reconnects with a
backoff as a Link does; command authority is not taken back by itself.
"""

import collections
import itertools
import os
import socket
import threading
import time

from ground import protocol
from ground.archive import Row, Session
from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, PENDING, TIMEOUT, Client, Stage, Verification
from ground.errors import LinkError, UsageError
from ground.link import CLOSED, DOWN, reconnect

REQUEST_TIMEOUT = 10.0  # s for the server to answer a request (a query: between two rows)
_CONNECT_TIMEOUT = 5.0
_ENDED = 256  # commands kept after their end, for a reply read after it (a command may end that quickly)


class _Waiting:
    """A request waiting for its reply (and a query for its rows)."""

    def __init__(self):
        self.event = threading.Event()
        self.reply = None
        self.rows = []
        self.command = None  # a command request's Verification, taken when its reply is read


class ServerLink:
    """What a Client's ``link`` tells, for the server's link: state, counters, URLs."""

    def __init__(self, url, on_state):
        self.url = url  # the server's
        self.payload_url = None  # the link the server is on
        self.state = DOWN
        self.down_reason = ""  # why the state last went DOWN: the server's link's reason, or the connection's
        self.dropped = 0  # messages the server dropped for this client (it did not keep up)
        self.reconnects = 0  # to the server
        self.archive = None  # the server's: {"path", "errors", "last_error"}, or None
        self._counters = {}
        self._on_state = on_state or (lambda state: None)

    def counters(self):
        """The server's counters (its ``Client.counters()``), and the messages this client lost (``dropped``)."""
        return dict(self._counters, dropped=self.dropped)

    def write(self, raw):
        raise UsageError("only the server writes to the payload link: send commands, or open %s directly"
                         % (self.payload_url or "the link"))

    write_raw = write

    def _set(self, state, counters=None, dropped=None, down_reason=""):
        if counters is not None:
            self._counters = counters
        if dropped is not None:
            self.dropped = dropped
        if state == DOWN:
            self.down_reason = down_reason
        if state != self.state:
            self.state = state
            self._on_state(state)


class ServerClient(Client):
    """A Client of the ground server (see the module doc); ``token``: default $GROUND_TOKEN."""

    def __init__(self, url, *, baudrate=None, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, archive=None,
                 seq_file=None, on_record=None, on_state=None, on_stage=None, on_finish=None, name=None, token=None):
        self._setup(name, timeout, retries, archive, on_record, on_stage, on_finish)
        self.operator = self.name  # as given; the server's name for this client numbers it: "#3 " + operator
        self.token = token if token is not None else os.environ.get("GROUND_TOKEN")
        self._authority = None
        self.two_person = False
        self.clients = []  # the names of the server's clients
        self.link = ServerLink(url, on_state)
        self._address = protocol.parse_url(url)
        self._mirrors = {}  # ref -> Verification of a command in flight
        self._ended = collections.OrderedDict()  # ref -> Verification, the last _ENDED that ended
        self._requests = {}  # id -> _Waiting
        self._ids = itertools.count(1)
        self._sock = None
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self._ready = threading.Event()
        self._refused = None  # the server's error message, when it sent one
        if archive:
            archive.start_session(url)  # the snapshot is archived too
        try:
            reader = self._connect()
        except LinkError:
            if archive:
                archive.end_session()
            raise
        self._thread = threading.Thread(target=self._run, args=(reader,), name="ground-remote", daemon=True)
        self._thread.start()
        if not self._ready.wait(REQUEST_TIMEOUT):
            self.close()
            raise LinkError("%s: %s" % (url, self._refused or "no snapshot from the server within %g s"
                                        % REQUEST_TIMEOUT))

    # --- the connection ---------------------------------------------------------------

    def _connect(self):
        """Connect and say hello; the reader of the server's lines (LinkError if that fails)."""
        try:
            sock = socket.create_connection(self._address, timeout=_CONNECT_TIMEOUT)
        except OSError as e:
            raise LinkError("cannot connect to %s: %s" % (self.link.url, e.strerror or e))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        reader = sock.makefile("rb")
        try:
            sock.sendall(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": self.operator}))
            sock.settimeout(_CONNECT_TIMEOUT)
            welcome = protocol.decode(reader.readline())
            sock.settimeout(None)
        except (OSError, protocol.ProtocolError) as e:
            sock.close()
            raise LinkError("%s did not answer as a ground server: %s" % (self.link.url, e))
        if welcome["type"] == "error":
            sock.close()
            raise LinkError("%s: %s" % (self.link.url, welcome.get("message")))
        if welcome["type"] != "welcome" or welcome.get("protocol") != protocol.VERSION:
            sock.close()
            raise LinkError("%s speaks protocol %s; this client speaks %d: use the same ground software on both"
                            % (self.link.url, welcome.get("protocol"), protocol.VERSION))
        self._sock = sock
        self.name = welcome["client"]
        self.two_person = welcome["two_person"]
        self.link.payload_url = welcome["link"]
        return reader

    def _run(self, reader):
        while not self._closed.is_set():
            if reader is None:
                reader = reconnect(self._connect, self._closed)
                if reader is None:
                    break
                self.link.reconnects += 1
            try:
                while line := reader.readline():
                    self._message(protocol.decode(line))
            except (OSError, ValueError, protocol.ProtocolError):
                pass  # a connection that broke, or a server that is not one: both end the same way
            reader = None
            self._lost()

    def _lost(self):
        """The connection to the server is gone: no answer will come for what is in flight."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._authority = None
        self.approvals = {}
        self.link._set(CLOSED if self._closed.is_set() else DOWN, down_reason="no connection to the ground server")
        why = "lost the connection to %s: outcome unknown, check telemetry" % self.link.url
        with self._cond:
            mirrors, self._mirrors = list(self._mirrors.values()), {}
            for waiting in self._requests.values():
                waiting.event.set()
        for v in mirrors:
            v._finish(TIMEOUT, why)

    def close(self):
        self._closed.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if threading.current_thread() is not self._thread:
            self._thread.join(2.0)
        self.link._set(CLOSED)
        if self.archive:
            self.archive.end_session()

    # --- what the server says -----------------------------------------------------------

    def _message(self, msg):
        kind = msg["type"]
        if kind == "tm":
            rec = protocol.record_from_doc(msg["rec"], bytes.fromhex(msg["raw"]))
            if self.archive:
                self.archive.store(rec.raw, rec.ground_time, "TM")
            self._keep(rec)
            self._on_record(rec)
        elif kind == "command":
            self._command(msg)
        elif kind == "status":
            self._authority, self.clients = msg["authority"], msg["clients"]
            self.link.archive = msg["archive"]
            self.link._set(msg["link"], msg["counters"], msg["dropped"], msg["down_reason"])
        elif kind == "approval":
            if msg["state"] == "WAITING":
                self.approvals[msg["approval"]] = msg
            else:
                self.approvals.pop(msg["approval"], None)
        elif kind == "notice":
            self.notices.append((time.time(), msg["text"]))
        elif kind == "ready":
            with self._cond:
                self._event_cursor = self._received  # next_event starts with what comes after joining
            self._ready.set()
        elif kind in ("reply", "row"):
            self._answer(msg)
        elif kind == "error":
            self._refused = msg.get("message")

    def _command(self, msg):
        """A command's new state: its mirror follows (the verification logic ran in the server)."""
        tc = protocol.tc_from_doc(msg["tc"])
        with self._cond:
            v = self._mirrors.get(msg["ref"])
            if v is None:
                v = Verification(tc, self._received, msg["timeout"], msg["retries"], self._on_stage,
                                 self._on_finish, msg["owner"], msg["approver"])
                self._mirrors[msg["ref"]] = v
        v.command, v.approver, v.held = tc, msg["approver"], msg["held"]
        v.attempts, v.already_executed, v.resequenced = msg["attempts"], msg["already_executed"], msg["resequenced"]
        v.sent_at = msg["sent_at"] or v.sent_at
        for i, stage in enumerate(msg["stages"], msg["first"]):
            if i == len(v.stages):
                if i == 0 and self.archive:  # a copy of the server's archive: the TC once, as it was received
                    self.archive.store(tc.packet, v.sent_at, "TC", v.owner, v.approver)
                v.stages.append(Stage(**stage))
                v._on_stage(v, v.stages[-1])
        if msg["status"] != PENDING:
            with self._cond:
                self._ended[msg["ref"]] = self._mirrors.pop(msg["ref"], v)
                if len(self._ended) > _ENDED:
                    self._ended.popitem(last=False)
            v._finish(msg["status"], msg["reason"])

    def _answer(self, msg):
        with self._cond:
            waiting = self._requests.get(msg.get("id"))
            if waiting is None:
                return
            if msg["type"] == "row":
                waiting.rows.append(msg)
            else:  # a command's first message came before its reply
                ref = msg.get("ref")
                waiting.command = self._mirrors.get(ref) or self._ended.get(ref)
                waiting.reply = msg
        waiting.event.set()

    def _request(self, msg):
        """Send a request; what waited for its reply (_Waiting), or the GroundError the reply carries."""
        rid = next(self._ids)
        waiting = _Waiting()
        with self._cond:
            self._requests[rid] = waiting
        try:
            with self._send_lock:
                sock = self._sock
                if sock is None:
                    raise LinkError("not connected to %s" % self.link.url)
                try:
                    sock.sendall(protocol.encode(dict(msg, id=rid)))
                except OSError as e:
                    raise LinkError("connection to %s lost: %s" % (self.link.url, e))
            while waiting.reply is None:
                seen = len(waiting.rows)
                if not waiting.event.wait(REQUEST_TIMEOUT) and len(waiting.rows) == seen:
                    raise LinkError("%s did not answer within %g s" % (self.link.url, REQUEST_TIMEOUT))
                waiting.event.clear()
                if waiting.reply is None and self._sock is not sock:
                    raise LinkError("lost the connection to %s before its answer" % self.link.url)
        finally:
            with self._cond:
                self._requests.pop(rid, None)
        if not waiting.reply["ok"]:
            raise protocol.error(waiting.reply)
        return waiting

    def counters(self):
        """The server's link and decoder counters, and ``dropped``: this client never decodes a packet."""
        return self.link.counters()

    # --- commanding -------------------------------------------------------------------

    def _next_seq(self):
        return 0  # what build() shows; the server numbers what it sends

    def submit(self, name, *args, confirm=False, timeout=None, retries=None, owner=None, approver=None):
        """Have the server send a command; its Verification (mirrored) at once."""
        tc = self.telecommand(name, args, confirm)  # usage mistakes and the hazard rule, before anything goes
        return self._request({"type": "command", "words": protocol.words(tc), "confirm": confirm,
                              "timeout": self.timeout if timeout is None else timeout,
                              "retries": self.retries if retries is None else retries}).command

    @property
    def authority(self):
        """The name of the client that holds command authority, or None."""
        return self._authority

    def take(self, force=False):
        """Take command authority (``force``: from its holder, which the server logs)."""
        self._request({"type": "take", "force": force, "token": self.token})

    def release(self):
        self._request({"type": "release"})

    def approve(self, number):
        """Approve command ``number`` another operator sent (two-person rule); it is sent then."""
        self._request({"type": "approve", "approval": number, "token": self.token})

    # --- the server's archive -----------------------------------------------------------

    def sessions(self):
        return [Session(**s) for s in self._request({"type": "sessions"}).reply["sessions"]]

    def rows(self, since=None, until=None, session=None):
        """Rows of the server's archive, as ``Archive.rows``."""
        rows = self._request({"type": "query", "since": since, "until": until, "session": session}).rows
        return [Row(r["session"], r["t"], r["direction"], bytes.fromhex(r["packet"]) if r["packet"] else None,
                    r["client"], r["approver"], r["kind"], r["text"]) for r in rows]
