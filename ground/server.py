"""The ground server (``ground serve``): the only process on the payload link, many clients.

::

    payload link ── core: a ground.client.Client on the link (transport, decode once, archive,
                    │     request ids, retries, the verification logic), its link read by the
                    │     server's loop (ground/link.py)
                    │ its callbacks: from the link, on the loop (call_soon); from the verification
                    │ threads and the link's reopening (call_soon_threadsafe)
                    ▼
                    Server, on asyncio ── authority and two-person approvals (ground/authority.py)
                    │ each event encoded once (ground/protocol.py), written to every peer
                    ▼
                    Peer, Peer, ... (the client protocol over TCP; or over a browser's WebSocket,
                                     through ground/web: the same Peer on another transport)

Every peer has a bounded queue: its transport's write buffer. Past ``QUEUE_BYTES`` the
peer is paused and loses ``tm`` and ``status`` messages (counted, and told to it in the
next status it reads); past ``HARD_LIMIT`` it is disconnected. Neither the link nor any
other peer waits for it. A peer that sends garbage, a line longer than ``MAX_LINE``, or
more than ``FLOOD_RATE`` messages per second is told why and disconnected.
"""

import asyncio
import collections
import dataclasses
import ipaddress
import itertools
import os
import signal
import socket
import threading
import time

from ground import authority, hazard, protocol, software_version
from ground.archive import CLIENT_KINDS
from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, PENDING, Client
from ground.errors import GroundError, UsageError
from ground.flight import Flight

QUEUE_BYTES = 1 << 20  # a peer's queue; past it, its tm and status messages are dropped
KERNEL_BYTES = 256 << 10  # the kernel's part of that queue, fixed (Linux would let it grow to 4 MiB)
HARD_LIMIT = 8 << 20  # past it, the peer is disconnected (even commands could not reach it)
FLOOD_RATE = 100  # messages per second a peer may send, on average...
FLOOD_BURST = 200  # ...and at once
FLUSH_BYTES = 64 << 10  # a batch written to every peer at once, at most (a busy loop batches more)
MAX_IN_FLIGHT = 16  # commands of one peer not yet ended
RECENT_EVENTS = 20  # events a joining client gets at once
STATUS_PERIOD = 1.0  # s between status messages (link counters, drops)
_NAME_MAX = 80


@dataclasses.dataclass(eq=False)
class _Command:
    """A command sent through the server: held for approval (``v`` None) or under way."""

    ref: int
    owner: object  # the Peer
    tc: object
    timeout: float
    retries: int
    v: object = None  # the core's Verification once sent
    approval: object = None
    approver: object = None
    status: str = PENDING  # while held, or NOT_SENT if never approved
    reason: str = ""
    sent_stages: int = 0  # how many stages every peer has been told
    sent_status: str | None = None


class Server:
    """One link, one archive, one request-id sequence; peers join and leave."""

    def __init__(self, link_url, archive=None, *, two_person=False, token=None, remote_token=None, baudrate=115200,
                 timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, seq_file=None,
                 approval_timeout=authority.APPROVAL_TIMEOUT):
        if protocol.is_server_url(link_url):
            raise UsageError("serve opens the payload link itself: give its pyserial URL, not a server's (%s)"
                             % link_url)
        self.link_url = link_url
        self.archive = archive
        self.authority = authority.Authority(token, remote_token)
        self.approvals = authority.Approvals(approval_timeout) if two_person else None
        self.peers = []
        self.url = None
        self.web_url = None  # the web console's, when it serves one
        self._core_args = dict(baudrate=baudrate, timeout=timeout, retries=retries, seq_file=seq_file)
        self.core = None
        self._commands = {}  # ref -> _Command, until it ends
        self._by_verification = {}  # core Verification -> _Command
        self._refs = itertools.count(1)
        self._numbers = itertools.count(1)  # peer numbers, in names: "#3 console alice@desk"
        self._latest_hk = None  # the encoded tm line
        self._recent = collections.deque(maxlen=RECENT_EVENTS)
        self._outbox = []  # (line, droppable) for the next flush
        self._outbox_bytes = 0
        self._loop = None
        self._loop_thread = None
        self._tcp = None
        self._web = None
        self._tasks = set()  # the status ticker, queries under way
        self._handlers = {"command": self._command, "take": self._take, "release": self._release,
                          "approve": self._approve, "withdraw": self._withdraw, "sessions": self._sessions,
                          "log": self._client_log, "proc_start": self._proc_start, "proc_answer": self._proc_answer,
                          "proc_stop": self._proc_stop}
        self._flight = None  # the procedure flown for a client (ground/flight.py), the last one once ended

    # --- life cycle -------------------------------------------------------------------

    async def start(self, host="127.0.0.1", port=protocol.DEFAULT_PORT, http=None):
        """Open the link (LinkError if it cannot be) and listen (``http``: (host, port) of the web
        console too, ``web_url`` then); returns the server's URL."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        soon = self._soon
        self.core = Client(self.link_url, archive=self.archive, name="server", loop=self._loop,
                           on_record=lambda rec: soon(self._tm, rec),
                           on_state=lambda state: soon(self._link_state, state),
                           on_stage=lambda v, stage: soon(self._update, v),
                           on_finish=lambda v: soon(self._update, v, now=True), **self._core_args)
        try:
            self._tcp = await self._loop.create_server(lambda: Peer(self), host, port)
        except OSError as e:
            self.core.close()
            raise UsageError("cannot listen on %s:%s: %s" % (host, port, e.strerror or e))
        bound = self._tcp.sockets[0].getsockname()
        self.url = "%s%s:%d" % (protocol.SCHEME, host if ":" not in host else "[%s]" % host, bound[1])
        self.core.link.describe("the ground server at %s (pid %d)" % (self.url, os.getpid()))  # a tool refused joins it
        if http is not None:
            from ground.web import Web  # aiohttp loads only here

            self._web = Web(self)
            try:
                self.web_url = await self._web.start(*http)
            except UsageError:
                await self.stop()
                raise
        self._task(self._tick())
        return self.url

    def _task(self, coroutine):
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _soon(self, function, *args, now=False):
        """``function(*args)`` on the loop, next: called on it (the link's reader) or from another thread
        (a command's verification, the link's reopening, a procedure's flight). ``now``: on the loop, at
        once (a command's end goes out before the link's reader takes another byte or a thread the GIL)."""
        if threading.get_ident() == self._loop_thread:
            if now:
                function(*args)
            else:
                self._loop.call_soon(function, *args)
            return
        try:
            self._loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closed: the server stopped, a command's verification thread has not
            pass

    async def stop(self):
        for task in list(self._tasks):
            task.cancel()
        if self._tcp:
            self._tcp.close()
        for peer in list(self.peers):
            peer.close()
        await asyncio.sleep(0)  # let the peers see their end
        if self._web:
            await self._web.stop()
        if self.core:
            self.core.link.close()  # on the loop, which reads it
            await self._loop.run_in_executor(None, self.core.close)

    async def _tick(self):
        while True:
            await asyncio.sleep(STATUS_PERIOD)
            if self.approvals is not None:
                for a in self.approvals.expire(time.monotonic()):
                    self._unapproved(a, "NOT approved within %g s: not sent" % self.approvals.timeout)
            self._status(droppable=True)

    # --- from the link (loop thread) ------------------------------------------------

    def _tm(self, rec):
        line = protocol.encode({"type": "tm", "t": rec.ground_time, "raw": rec.raw.hex(),
                                "rec": protocol.record_doc(rec)})
        if rec.event:
            self._recent.append(line)
        elif rec.name == "HK" and not rec.error:
            self._latest_hk = line
        self._broadcast(line, True)

    def _link_state(self, state):  # the core's archive has it already
        self._broadcast(protocol.encode({"type": "notice", "text": "link to %s %s" % (self.link_url, state)}), False)
        self._status(droppable=False)

    def _update(self, v):
        """Tell every peer what changed in a command: its new stages, its status."""
        cmd = self._by_verification.get(v)
        if cmd is None or (len(v.stages), v.status) == (cmd.sent_stages, cmd.sent_status):
            return
        self._broadcast(self._command_line(cmd, cmd.sent_stages), False)
        self._flush()  # a command's news goes out now, not after the telemetry that came with it
        if cmd.sent_status != PENDING:
            self._log("COMMAND", "%s [0x%08X] from %s %s%s" % (
                v.command, v.request_id, cmd.owner.name, v.status, ": " + v.reason if v.reason else ""), cmd.owner)
            self._end(cmd)

    def _end(self, cmd):
        self._commands.pop(cmd.ref, None)
        self._by_verification.pop(cmd.v, None)

    # --- to the peers ----------------------------------------------------------------

    def _broadcast(self, line, droppable):
        if not self._outbox:
            self._loop.call_soon(self._flush)
        self._outbox.append((line, droppable))
        self._outbox_bytes += len(line)
        if self._outbox_bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self, requester=None, reply=b""):
        """One write per peer for everything since the last flush (the link delivers in bursts), and
        ``reply`` after it to ``requester``, never dropped."""
        batch, self._outbox, self._outbox_bytes = self._outbox, [], 0
        whole = b"".join(line for line, _ in batch)
        for peer in self.peers:
            if batch and peer is not requester:
                peer.send(whole, batch)
        if requester is not None:
            requester.send(whole + reply, batch + [(reply, False)])

    def _status(self, droppable):
        self._flush()  # in order with what caused it
        for peer in self.peers:
            line = self._status_line(peer)
            peer.send(line, [(line, droppable)])

    def _status_line(self, peer):
        link, archive = self.core.link, self.archive
        return protocol.encode({
            "type": "status", "link": link.state, "down_reason": link.down_reason, "counters": self.core.counters(),
            "dropped": peer.dropped,
            "authority": self.authority.holder.name if self.authority.holder else None,
            "clients": [p.name for p in self.peers],
            "archive": archive and {"path": archive.path, "errors": archive.errors, "last_error": archive.last_error}})

    def _notice(self, kind, text, peer=None):
        """A line in the archive's log and in every client's."""
        self._log(kind, text, peer)
        self._broadcast(protocol.encode({"type": "notice", "text": text}), False)

    def _log(self, kind, text, peer=None):
        if self.archive:
            self.archive.log(time.time(), kind, text, peer.name if peer else None)

    def _command_line(self, cmd, first=None):
        """A command's state for the peers: its stages from ``first`` (None: all, for a joining peer,
        and what every peer was told is unchanged). The verification threads run on meanwhile: the
        status is read before the stages, so that a final status never goes without its last stage."""
        v = cmd.v
        doc = {"type": "command", "ref": cmd.ref, "owner": cmd.owner.name,
               "approver": cmd.approver.name if cmd.approver else None,
               "held": cmd.approval.number if cmd.approval and v is None and cmd.status == PENDING else None,
               "tc": protocol.tc_doc(v.command if v else cmd.tc), "timeout": cmd.timeout, "retries": cmd.retries,
               "first": first or 0}
        if v is None:
            doc.update(status=cmd.status, reason=cmd.reason, attempts=0, already_executed=False,
                       resequenced=False, sent_at=None, stages=[])
            return protocol.encode(doc)
        status, reason = v.status, v.reason
        stages = v.stages[first or 0:]
        doc.update(status=status, reason=reason, attempts=v.attempts, already_executed=v.already_executed,
                   resequenced=v.resequenced, sent_at=v.sent_at, stages=[vars(s) for s in stages])
        if first is not None:
            cmd.sent_stages, cmd.sent_status = first + len(stages), status
        return protocol.encode(doc)

    def _approval_line(self, a):
        return protocol.encode({"type": "approval", "approval": a.number, "owner": a.owner.name,
                                "command": str(a.command.tc), "text": a.text, "answer": a.answer, "state": a.state,
                                "by": a.by.name if a.by else None})

    # --- peers join and leave -------------------------------------------------------

    def hello(self, peer, msg):
        if msg.get("type") != "hello":
            raise protocol.ProtocolError("say hello first: {\"type\": \"hello\", \"protocol\": %d, ...}"
                                         % protocol.VERSION)
        if msg.get("protocol") != protocol.VERSION:
            raise protocol.ProtocolError("protocol %r is not spoken here: this server (%s) speaks protocol %d"
                                         % (msg.get("protocol"), software_version(), protocol.VERSION))
        peer.operator = "".join(c for c in str(msg.get("name") or "anonymous") if c.isprintable())[:_NAME_MAX]
        peer.name = "#%d %s" % (next(self._numbers), peer.operator)
        self._flush()  # what came before the snapshot goes to the others first, not twice to this one
        self.peers.append(peer)
        peer.send_now(protocol.encode({
            "type": "welcome", "protocol": protocol.VERSION, "server": software_version(), "client": peer.name,
            "link": self.link_url, "session": self.archive.session if self.archive else None,
            "two_person": self.approvals is not None, "token": self.authority.needed(peer) is not None}))
        snapshot = [self._status_line(peer), self._latest_hk, *self._recent]
        snapshot += [self._command_line(c) for c in self._commands.values()]
        snapshot += [self._approval_line(a) for a in (self.approvals.waiting.values() if self.approvals else ())]
        snapshot += self._flight.lines if self._flight else []
        peer.send_now(b"".join(line for line in snapshot if line) + protocol.encode({"type": "ready"}))
        self._log("CLIENT", "%s joined from %s" % (peer.name, peer.address), peer)
        self._status(droppable=False)

    def detach(self, peer):
        if peer not in self.peers:
            return
        self.peers.remove(peer)
        text = self.authority.release(peer, left=True)
        if text:
            self._notice("AUTHORITY", text, peer)
        self._cancel_approvals(peer, "its sender left")
        self._log("CLIENT", "%s left%s" % (peer.name, " (%s)" % peer.why if peer.why else ""), peer)
        self._status(droppable=False)

    # --- requests -------------------------------------------------------------------

    def request(self, peer, msg):
        """Answer one request; a malformed one is a ProtocolError (the peer is dropped)."""
        kind = msg["type"]
        if kind == "query":
            if not all(isinstance(msg.get(k), (int, float, type(None))) for k in ("since", "until", "session")) \
                    or not isinstance(msg.get("kind"), (str, type(None))):
                raise protocol.ProtocolError("malformed query request: since, until and session are numbers or "
                                             "null, kind a text or null")
            self._task(self._query(peer, msg))
            return
        handler = self._handlers.get(kind)
        if handler is None:
            raise protocol.ProtocolError("no request of type %r in protocol %d" % (kind, protocol.VERSION))
        reply = {"type": "reply", "id": msg.get("id"), "ok": True}
        try:
            reply.update(handler(peer, msg) or {})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise protocol.ProtocolError("malformed %s request: %s" % (kind, e))
        except GroundError as e:
            reply.update(ok=False, error=str(e), kind=protocol.error_kind(e))
        # what the request caused comes first (a command's mirror exists when its reply arrives), in one write
        self._flush(peer, protocol.encode(reply))

    def _command(self, peer, msg):
        words = msg["words"]
        if not isinstance(words, list) or not words:
            raise TypeError("words must be a list: the command name, then its arguments")
        self.authority.check(peer)
        if sum(c.owner is peer for c in self._commands.values()) >= MAX_IN_FLIGHT:
            raise UsageError("%d commands of yours are in flight: wait for one to end" % MAX_IN_FLIGHT)
        tc = self.core.telecommand(words[0], words[1:], bool(msg.get("confirm")))
        timeout, retries = msg.get("timeout"), msg.get("retries")
        cmd = _Command(next(self._refs), peer, tc, float(self.core.timeout if timeout is None else timeout),
                       int(self.core.retries if retries is None else retries))
        self._commands[cmd.ref] = cmd
        if self.approvals is not None and tc.hazardous:
            cmd.approval = self.approvals.hold(peer, cmd, hazard.confirmation(tc), time.monotonic())
            self._notice("APPROVAL", "%s [0x%08X] from %s waits for a second person: approval %d" % (
                tc, tc.request_id, peer.name, cmd.approval.number), peer)
            self._broadcast(self._command_line(cmd), False)
            self._broadcast(self._approval_line(cmd.approval), False)
        else:
            self._send(cmd)
        return {"ref": cmd.ref, "held": cmd.approval.number if cmd.approval else None}

    def _send(self, cmd):
        cmd.v = self.core.submit(cmd.tc, confirm=True, timeout=cmd.timeout, retries=cmd.retries,
                                 owner=cmd.owner.name, approver=cmd.approver.name if cmd.approver else None)
        self._by_verification[cmd.v] = cmd
        self._broadcast(self._command_line(cmd, 0), False)
        if cmd.sent_status != PENDING:  # it ended already (a quick payload, a slow loop)
            self._end(cmd)

    def _take(self, peer, msg):
        previous = self.authority.holder
        text = self.authority.take(peer, bool(msg.get("force")), msg.get("token"))
        if text:
            self._notice("AUTHORITY", text, peer)
            if previous is not None:
                self._cancel_approvals(previous, "its sender lost command authority")
            self._status(droppable=False)

    def _release(self, peer, msg):
        text = self.authority.release(peer)
        if text:
            self._notice("AUTHORITY", text, peer)
            self._cancel_approvals(peer, "its sender released command authority")
            self._status(droppable=False)

    def _approve(self, peer, msg):
        if self.approvals is None:
            raise UsageError("this server does not apply the two-person rule: nothing to approve")
        self.authority.check_token(peer, msg.get("token"), "approving a command")
        a = self.approvals.approve(int(msg["approval"]), peer, time.monotonic())
        cmd = a.command
        cmd.approver = peer
        self._notice("APPROVAL", "%s [0x%08X] from %s approved by %s" % (
            cmd.tc, cmd.tc.request_id, cmd.owner.name, peer.name), peer)
        self._broadcast(self._approval_line(a), False)
        self._send(cmd)

    def _withdraw(self, peer, msg):
        """The sender of a held command takes it back (a procedure that stopped): never sent."""
        cmd = self._commands.get(int(msg["ref"]))
        if cmd is None or cmd.owner is not peer or cmd.approval is None or cmd.approval.state != authority.WAITING:
            raise UsageError("no command of yours numbered %s waits for approval" % msg["ref"])
        self._unapproved(self.approvals.withdraw(cmd.approval), "withdrawn by its sender: not sent")

    def _cancel_approvals(self, owner, why):
        for a in self.approvals.cancel(owner) if self.approvals else ():
            self._unapproved(a, "cancelled, %s: not sent" % why)

    def _unapproved(self, a, reason):
        cmd = a.command
        cmd.status, cmd.reason = "NOT_SENT", reason
        self._notice("APPROVAL", "%s [0x%08X] from %s %s" % (cmd.tc, cmd.tc.request_id, cmd.owner.name, reason))
        self._broadcast(self._approval_line(a), False)
        self._broadcast(self._command_line(cmd), False)
        self._end(cmd)

    def _client_log(self, peer, msg):
        """A client's lines for the archive (the entries of a procedure it flies), under its name."""
        if self.archive is None:
            raise UsageError("this server keeps no archive: nothing would record what %s logs" % peer.name)
        lines = [(float(t), str(kind), str(text)) for t, kind, text in msg["lines"]]
        refused = [kind for _t, kind, _text in lines if kind not in CLIENT_KINDS]
        if refused:
            raise UsageError("a client logs %s lines, not %s: the other kinds are the server's own" % (
                "|".join(CLIENT_KINDS), refused[0]))
        for t, kind, text in lines:
            self.archive.log(t, kind, text, peer.name)

    def _proc_start(self, peer, msg):
        """Fly a shipped procedure for ``peer``, who holds command authority (ground/flight.py)."""
        self.authority.check(peer)
        if self._flight is not None and not self._flight.ended:
            raise UsageError("%s is flying for %s: one procedure at a time" % (
                self._flight.proc.name, self._flight.owner.name))
        self._flight = Flight(self, peer, str(msg["procedure"]), msg.get("params") or {})
        self._flight.start()
        return {"procedure": self._flight.proc.name}

    def _proc_answer(self, peer, msg):
        self._flying().answer(peer, msg["text"])

    def _proc_stop(self, peer, msg):
        self._flying().stop(peer)

    def _flying(self):
        if self._flight is None or self._flight.ended:
            raise UsageError("no procedure is flying")
        return self._flight

    def _flight_entry(self, flight, entry):
        line = flight.line(entry)
        flight.lines.append(line)
        self._broadcast(line, False)

    def _flight_ended(self, flight, client_name):
        """Command authority back to the owner, if the flight's client (``client_name``) still holds it."""
        flight.ended = True
        holder = self.authority.holder
        if client_name and holder is not None and holder.name == client_name and flight.owner in self.peers:
            self.authority.holder = flight.owner
            self._notice("AUTHORITY", "command authority back to %s: %s ended" % (flight.owner.name, flight.proc.name),
                         flight.owner)
            self._status(droppable=False)

    def _sessions(self, peer, msg):
        if self.archive is None:
            raise UsageError("this server keeps no archive")
        return {"sessions": [s._asdict() for s in self.archive.sessions()]}

    async def _query(self, peer, msg):
        """Archive rows, streamed as fast as the peer reads them."""
        reply = {"type": "reply", "id": msg.get("id"), "ok": True}
        try:
            if self.archive is None:
                raise UsageError("this server keeps no archive")
            rows = await self._loop.run_in_executor(None, lambda: self.archive.rows(
                msg.get("since"), msg.get("until"), msg.get("session"), msg.get("kind")))
            for row in rows:
                doc = row._asdict()
                doc.update(type="row", id=msg.get("id"), packet=row.packet.hex() if row.packet else None)
                peer.send_now(protocol.encode(doc))
                await peer.drained()
            reply["rows"] = len(rows)
        except GroundError as e:
            reply.update(ok=False, error=str(e), kind=protocol.error_kind(e))
        peer.send_now(protocol.encode(reply))


class Peer(asyncio.Protocol):
    """One client connection: lines in (requests), batches out (bounded, see the module doc)."""

    def __init__(self, server):
        self.server = server
        self.name = None  # set by hello: "#3 console alice@desk", unique
        self.operator = None  # the name it gave: "console alice@desk"
        self.address = None  # where it connects from: "127.0.0.1"
        self.remote = False  # not on loopback: command authority may need a token (ground/authority.py)
        self.transport = None
        self.paused = False
        self.dropped = 0  # tm and status messages this client lost
        self.why = ""  # why the server dropped it
        self._buf = bytearray()
        self._tokens = float(FLOOD_BURST)
        self._refill = time.monotonic()
        self._drained = None

    def connection_made(self, transport):
        self.transport = transport
        self.address = transport.get_extra_info("peername")[0]
        self.remote = not loopback(self.address)
        transport.set_write_buffer_limits(high=QUEUE_BYTES, low=QUEUE_BYTES // 4)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a report is due now, not in 40 ms
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_BYTES)

    def connection_lost(self, exc):
        self.server.detach(self)
        if self._drained and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self._drained and not self._drained.done():
            self._drained.set_result(None)

    async def drained(self):
        """Wait while this peer's queue is over its bound."""
        if self.paused and not self.transport.is_closing():
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def data_received(self, data):
        self._buf += data
        while not self.transport.is_closing():
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > protocol.MAX_LINE:
                    self.fail("a message longer than %d bytes" % protocol.MAX_LINE)
                return
            line = bytes(self._buf[:end])
            del self._buf[:end + 1]
            try:
                self._flood_check()
                msg = protocol.decode(line)
                if self.name is None:
                    self.server.hello(self, msg)
                else:
                    self.server.request(self, msg)
            except protocol.ProtocolError as e:
                self.fail(str(e))

    def _flood_check(self):
        now = time.monotonic()
        self._tokens = min(FLOOD_BURST, self._tokens + (now - self._refill) * FLOOD_RATE)
        self._refill = now
        if self._tokens < 1:
            raise protocol.ProtocolError("more than %d messages per second: flooding" % FLOOD_RATE)
        self._tokens -= 1

    def send(self, whole, batch):
        """A batch of (line, droppable): all of it (``whole``), or, while paused, what may not be dropped."""
        if self.name is None or self.transport.is_closing():
            return
        if not self.paused:
            self.send_now(whole)
            return
        kept = [line for line, droppable in batch if not droppable]
        self.dropped += len(batch) - len(kept)
        if kept:
            self.send_now(b"".join(kept))

    def send_now(self, data):
        if self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > HARD_LIMIT:
            self.why = "too slow: more than %d bytes waiting" % HARD_LIMIT
            self.transport.abort()
            return
        self.transport.write(data)

    def close(self):
        self.transport.close()

    def fail(self, message):
        """Tell the client why, and drop it."""
        self.why = message
        self.transport.write(protocol.encode({"type": "error", "message": message}))
        self.transport.close()


def loopback(host):
    """True for an address (or ``localhost``) on this machine's loopback."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 is loopback too


def parse_listen(text, option="--listen", example=protocol.DEFAULT_PORT):
    """``HOST:PORT`` (port 0: any free one) as (host, port); UsageError if malformed."""
    host, _, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError("%s: %r is not HOST:PORT (like 127.0.0.1:%d)" % (option, text, example))
    return host, int(port)


def check_token(host, token):
    """Command authority beyond loopback needs a token."""
    if token is None and not loopback(host):
        raise UsageError("listening on %s (not loopback) needs a token for command authority: --token or "
                         "GROUND_TOKEN" % host)


class Background:
    """A Server on an event loop of its own, in a thread (the console of ``serve --console``, tests)."""

    def __init__(self, server, host="127.0.0.1", port=0, http=None):
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ground-server", daemon=True)
        self._thread.start()
        try:
            self.url = asyncio.run_coroutine_threadsafe(server.start(host, port, http), self._loop).result()
        except BaseException:
            self._end()
            raise

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result()
        self._end()

    def _end(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run(server, host, port, console=None, http=None):
    """``ground serve``: serve until SIGINT, SIGTERM or SIGHUP, or until ``console(url)`` returns;
    ``http``: (host, port) of the web console."""
    if console is None:
        asyncio.run(_serve(server, host, port, http))
        return
    with Background(server, host, port, http) as background:
        print("server: %s (more consoles: ground console %s; or ground monitor %s)" % ((background.url,) * 3),
              flush=True)
        _announce_web(server)
        console(background.url)


def _announce_web(server):
    """The web console's address, and the token a browser on another machine needs (printed once)."""
    if server.web_url:
        token = server.authority.remote_token
        print("web: %s%s" % (server.web_url, " (command authority from another machine needs the token %s: it is "
                                             "shown only now)" % token if token else ""), flush=True)


async def _serve(server, host, port, http):
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, kill, terminal gone: a clean stop
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print("server: %s" % await server.start(host, port, http), flush=True)
    _announce_web(server)
    try:
        await stop.wait()
    finally:
        await server.stop()
