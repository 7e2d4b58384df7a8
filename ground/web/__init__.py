"""The web console: the mission-control view in a browser, served by the ground server (``--http``).

::

    browser ── GET  /                 the app: static/ (index.html, ES modules, app.css), as they are:
            │                         no build step, nothing from another site (control rooms are offline)
            ├─ GET  /ws               WebSocket: the client protocol v1 (docs/GROUND.md), the browser
            │                         being one more Peer of the server; each message holds one or
            │                         more lines, each a protocol message
            ├─ GET  /api/dictionary   the dictionary as the command form needs it (data.py)
            ├─ POST /api/check        a command as the form has it: built, range-checked, worded
            ├─ GET  /api/sessions     the archive's sessions
            ├─ GET  /api/rows         archive rows, filtered; ?format=csv|jsonl: an export
            ├─ GET  /api/hk           housekeeping over ground time (an archived session, or the live one)
            ├─ GET  /api/procedures   the shipped procedures, with their params and ``ground proc check``'s verdict
            └─ GET  /api/procedure-runs   the runs in the archive; ?run=ID: one run's entries

aiohttp serves it on the server's own event loop, so a WebSocket peer is fed by the same
flush as a TCP peer. ``_WebSocketTransport`` gives the server's Peer what it expects of an
asyncio transport (write, close, abort, the write-buffer size and the pause/resume calls at
its limits) over a WebSocket: a browser that does not keep up is paused, loses telemetry
and is disconnected exactly as a TCP client is.

Access. Watching needs nothing. Command authority and approvals follow ground/authority.py:
``--token`` if the server has one; else a browser beyond loopback needs the token printed at
start. Every request is checked first: its Host must name this server (a page of another
site, whose name was made to resolve here, cannot reach it: DNS rebinding), and a request
with an Origin must come from this server's own pages (another site's page in an operator's
browser can neither read nor command: a WebSocket is not bound by the browser's same-origin
rule, so the server is). The pages may not be framed by another site (a FIRE button under a
decoy) and load nothing from elsewhere (Content-Security-Policy).
"""

import asyncio
import socket
from pathlib import Path

from aiohttp import WSMsgType, web

from ground import protocol
from ground.errors import GroundError, UsageError
from ground.replay import parse_time, parse_types
from ground.server import Peer, loopback
from ground.web import data

STATIC = Path(__file__).with_name("static")
HEARTBEAT = 10.0  # s between WebSocket pings: a browser gone without a word is dropped after it
ROWS_SHOWN = 2000  # archive rows on a page (exports have them all)
_SHUTDOWN = 2.0  # s the HTTP server waits for a request under way when it stops
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {"csv": ("text/csv", data.csv_lines), "jsonl": ("application/x-ndjson", data.json_lines)}


class Web:
    """The web console of ``server``, on the server's loop."""

    def __init__(self, server):
        self.server = server
        self.url = None
        self._runner = None
        self._listen = None
        self._names = ()  # the names of this machine a request's Host may give (beyond loopback)
        self._sockets = set()  # _WebSocketTransport of every browser connected

    async def start(self, host, port):
        """Listen on ``host:port`` (0: any free port); returns the URL (UsageError if it cannot)."""
        app = web.Application(middlewares=[self._same_origin], client_max_size=protocol.MAX_LINE)
        app.on_response_prepare.append(_headers)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/api/dictionary", self._dictionary)
        app.router.add_post("/api/check", self._check)
        app.router.add_get("/api/sessions", self._sessions)
        app.router.add_get("/api/rows", self._rows)
        app.router.add_get("/api/hk", self._hk)
        app.router.add_get("/api/procedures", self._procedures)
        app.router.add_get("/api/procedure-runs", self._procedure_runs)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise UsageError("--http: cannot listen on %s:%s: %s" % (host, port, e.strerror or e))
        bound = self._runner.addresses[0][1]
        self._listen = host
        if not loopback(host):
            self._names = {host.lower(), socket.gethostname().lower(), socket.getfqdn().lower()}
        self.url = "http://%s:%d/" % (host if ":" not in host else "[%s]" % host, bound)
        return self.url

    async def stop(self):
        for ws in list(self._sockets):
            ws.abort()
        if self._runner:
            await self._runner.cleanup()

    # --- access -----------------------------------------------------------------------

    @web.middleware
    async def _same_origin(self, request, handler):
        host = request.host
        if not self._our_name(_hostname(host)):
            raise web.HTTPForbidden(text="refused: Host %r does not name this ground server (%s)\n" % (host, self.url))
        origin = request.headers.get("Origin")
        if origin is not None and origin != "%s://%s" % (request.scheme, host):
            raise web.HTTPForbidden(text="refused: a cross-origin request (from %s); the web console is %s\n"
                                         % (origin, self.url))
        return await handler(request)

    def _our_name(self, name):
        """True if ``name`` (a request's Host, without its port) names this server."""
        if loopback(name) or loopback(self._listen):  # a loopback server is reached by loopback names only
            return loopback(name)
        return _ip_literal(name) or name in self._names

    # --- pages and the live stream ---------------------------------------------------

    async def _index(self, request):
        return web.FileResponse(STATIC / "index.html")

    async def _websocket(self, request):
        ws = web.WebSocketResponse(max_msg_size=protocol.MAX_LINE, compress=False, heartbeat=HEARTBEAT)
        await ws.prepare(request)
        peer = Peer(self.server)
        transport = _WebSocketTransport(ws, request.transport, peer)
        self._sockets.add(transport)
        peer.connection_made(transport)
        pump = asyncio.create_task(transport.pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    peer.data_received(msg.data.encode() + b"\n")
                else:
                    peer.fail("text messages only: each a protocol %d message" % protocol.VERSION)
                if transport.is_closing():
                    break
        finally:
            transport.close()
            await asyncio.wait([pump], timeout=_SHUTDOWN)  # what was queued, then the close
            transport.abort()
            pump.cancel()
            self._sockets.discard(transport)
            peer.connection_lost(None)
        return ws

    # --- the API ----------------------------------------------------------------------

    async def _dictionary(self, request):
        return web.json_response(data.dictionary_doc())

    async def _check(self, request):
        try:
            doc = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="a JSON object: {\"words\": [...]} or {\"answer\": ..., \"typed\": ...}\n")
        if not isinstance(doc, dict):
            raise web.HTTPBadRequest(text="a JSON object\n")
        return web.json_response(data.check(doc))

    async def _archive(self, read):
        """``read(archive)`` in a worker thread (SQLite); a GroundError as 400 with its message."""
        archive = self.server.archive
        if archive is None:
            raise web.HTTPNotFound(text="this server keeps no archive\n")
        try:
            return await asyncio.get_running_loop().run_in_executor(None, read, archive)
        except GroundError as e:
            raise web.HTTPBadRequest(text="%s\n" % e)

    async def _sessions(self, request):
        sessions = await self._archive(lambda a: a.sessions())
        current = self.server.archive.session
        return web.json_response({"current": current, "sessions": [s._asdict() for s in sessions]})

    async def _rows(self, request):
        q = request.query
        fmt = q.get("format", "json")
        if fmt not in ("json", *_TYPES):
            raise web.HTTPBadRequest(text="format: json, csv or jsonl\n")

        docs = await self._archive(lambda archive: data.rows(
            archive.rows(*_window(q, archive.session)), parse_types(q.get("type")), q.get("command") or None))
        if fmt == "json":
            return web.json_response({"rows": docs[:ROWS_SHOWN], "total": len(docs)})
        content_type, write = _TYPES[fmt]
        name = "archive%s.%s" % ("-session-%s" % q["session"] if q.get("session") else "", fmt)
        return web.Response(text=write(docs), content_type=content_type,
                            headers={"Content-Disposition": "attachment; filename=%s" % name})

    async def _hk(self, request):
        q = request.query
        series = await self._archive(lambda archive: data.hk_series(archive.rows(*_window(q, archive.session))))
        return web.json_response(series)


    async def _procedures(self, request):
        return web.json_response(await asyncio.get_running_loop().run_in_executor(None, data.procedures))

    async def _procedure_runs(self, request):
        run = request.query.get("run")
        if run:
            return web.json_response(await self._archive(lambda archive: data.procedure_run(archive, run)))
        return web.json_response({"runs": await self._archive(data.procedure_runs)})


def _window(q, current):
    """(since, until, session) of a query: ISO 8601 times (UTC unless they say so), a session
    number, ``current`` (the server's own session), or nothing (any)."""
    session = q.get("session") or None
    if session == "current":
        session = str(current)
    if session is not None and not session.isdigit():
        raise UsageError("session: %r is not a session number" % session)
    return (parse_time(q.get("since") or None, "since"), parse_time(q.get("until") or None, "until"),
            int(session) if session else None)


async def _headers(request, response):
    response.headers.update(_HEADERS)


def _hostname(host):
    """The name in a Host header, without its port: ``[::1]:7011`` is ``::1``."""
    host = host.lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _ip_literal(name):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        return False
    return True


class _WebSocketTransport:
    """The asyncio transport a Peer writes to (its flow control included), over a WebSocket.

    ``write`` queues; ``pump`` sends what is queued as one message whenever the browser
    takes it. Past the high mark the peer is paused (it drops telemetry), below the low
    mark it resumes; ``close`` sends what is queued first, ``abort`` drops the connection.
    """

    def __init__(self, ws, tcp, protocol):
        self._ws = ws
        self._tcp = tcp  # the connection under the WebSocket
        self._protocol = protocol
        self._queue = []
        self._size = 0
        self._high = self._low = 0
        self._paused = False
        self._closing = False
        self._wake = asyncio.Event()

    def get_extra_info(self, name, default=None):
        return self._tcp.get_extra_info(name, default)

    def set_write_buffer_limits(self, high, low):
        self._high, self._low = high, low

    def get_write_buffer_size(self):
        return self._size

    def is_closing(self):
        return self._closing

    def write(self, data):
        if self._closing:
            return
        self._queue.append(data)
        self._size += len(data)
        self._wake.set()
        if not self._paused and self._size > self._high:
            self._paused = True
            self._protocol.pause_writing()

    def close(self):
        self._closing = True
        self._wake.set()

    def abort(self):
        self._closing = True
        self._queue.clear()
        self._tcp.abort()
        self._wake.set()

    async def pump(self):
        try:
            while self._queue or not self._closing:
                await self._wake.wait()
                self._wake.clear()
                if not self._queue:
                    continue
                message, self._queue = b"".join(self._queue), []
                await self._ws.send_frame(message, WSMsgType.TEXT)
                self._size -= len(message)
                if self._paused and self._size <= self._low:
                    self._paused = False
                    self._protocol.resume_writing()
            await self._ws.close()
        except (ConnectionError, RuntimeError):  # the browser went away meanwhile
            pass
