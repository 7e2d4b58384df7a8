"""The web console's server side (ground/web) with a fake payload: the API the pages read, the
WebSocket peer, and who may reach it. The pages themselves are tested in a browser
(test_web_browser.py)."""

import asyncio
import csv
import io
import json
import socket
import urllib.error
import urllib.request

import aiohttp
import pytest

from firmware import dictionary as d
from ground import codec, hazard, protocol, server
from ground.__main__ import main
from ground.archive import Archive
from ground.client import Client
from ground.server import HARD_LIMIT, QUEUE_BYTES, Background, Peer, Server
from ground.web import _WebSocketTransport
from tests.ground.conftest import FAST
from tests.ground.test_server import wait_for


@pytest.fixture
def web(fw, archive):
    """A server on the fake payload with its web console: (the Background, its web URL)."""
    background = Background(Server(fw.url, archive, timeout=FAST, retries=1), http=("127.0.0.1", 0))
    yield background, background.server.web_url
    background.stop()


@pytest.fixture
def archive(tmp_path):
    a = Archive(str(tmp_path / "server.sqlite"))
    yield a
    a.close()


def _get(url, headers=None, body=None):
    """(status, content type, body text) of one request."""
    request = urllib.request.Request(url, data=body and json.dumps(body).encode(), headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def _json(url, body=None):
    status, _type, text = _get(url, body=body)
    assert status == 200, text
    return json.loads(text)


def test_the_page_is_served_from_the_server_with_nothing_from_another_site(web):
    _background, url = web
    status, content_type, page = _get(url)
    assert status == 200 and content_type.startswith("text/html")
    assert "/static/app.js" in page and "://" not in page
    for name in ("app.js", "stream.js", "live.js", "command.js", "plots.js", "archive.js", "util.js", "app.css"):
        status, _type, text = _get(url + "static/" + name)
        assert status == 200 and "http://" not in text and "https://" not in text, name
    with urllib.request.urlopen(url, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_the_dictionary_gives_the_form_every_command_with_its_ranges_units_and_names(web):
    doc = _json(web[1] + "api/dictionary")
    commands = {c["name"]: c for c in doc["commands"]}
    assert list(commands) == [c.name for c in d.COMMANDS]
    assert commands["FIRE"]["hazardous"] and commands["FIRE"]["args"] == [
        {"name": "slot", "kind": "number", "unit": "", "lo": 1, "hi": d.N_SLOTS, "description": "deployer slot",
         "names": None}]
    slots = commands["FIRE_SEQUENCE"]["args"][0]
    assert slots["kind"] == d.BITS and slots["names"] == ["1", "2", "3", "4"]
    assert commands["PARAM_SET"]["args"][0]["names"] == [p.name for p in d.PARAMETERS]
    assert commands["SCHED_INSERT"]["args"][2]["kind"] == "command"
    temperature = next(f for f in doc["hk"] if f["name"] == "temperature")
    assert (temperature["unit"], temperature["lo"], temperature["hi"]) == ("C", -20.0, 85.0)
    state = next(f for f in doc["hk"] if f["name"] == "state")
    assert state["names"] == [[0, "SAFE"], [1, "ARMED"], [2, "FIRING"], [3, "COOLDOWN"]]


@pytest.mark.parametrize("words, typed", [(["ARM"], "arm"), (["FIRE", "2"], "2"), (["FIRE_SEQUENCE", ["1", "3"], "0"],
                                                                                    "1, 3"),
                                          (["SCHED_INSERT", "30000", "0", "FIRE", "4"], "4")])
def test_a_hazardous_command_is_worded_and_confirmed_as_the_console_does_it(web, words, typed):
    answer = _json(web[1] + "api/check", {"words": words})
    confirm = hazard.confirmation(codec.build(words[0], words[1:], lambda: 0))
    assert answer["confirmation"] == {"text": confirm.text, "answer": confirm.answer}
    assert _json(web[1] + "api/check", {"words": words, "typed": typed})["accepted"]
    assert not _json(web[1] + "api/check", {"words": words, "typed": "1"})["accepted"]


def test_a_command_out_of_range_is_told_in_the_codecs_words_and_a_harmless_one_needs_no_confirmation(web):
    assert _json(web[1] + "api/check", {"words": ["FIRE", "9"]}) == {"error": "FIRE: slot=9 is outside 1..4"}
    assert _json(web[1] + "api/check", {"words": ["FIRE_SEQUENCE", ["3", "1"], "0"]})["error"].startswith(
        "FIRE_SEQUENCE: slots are taken in ascending order")
    answer = _json(web[1] + "api/check", {"words": ["PARAM_SET", "ARM_WINDOW", "120"], "typed": ""})
    assert answer == {"command": "PARAM_SET ARM_WINDOW 120", "hazardous": False, "confirmation": None,
                      "accepted": True}
    assert _json(web[1] + "api/check", {"answer": "1,3", "typed": " 1,3 "}) == {"accepted": True}


async def _ws(url, *messages, origin=None):
    """Say hello, then send ``messages``, on the web console's WebSocket: every message received up to
    the reply to the last (up to ``ready`` without messages), or a little beyond."""
    seen = []
    last = messages[-1]["id"] if messages else None
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session, session.ws_connect(url.replace("http", "ws") + "ws",
                                                                       headers=headers) as ws:
        for msg in ({"type": "hello", "protocol": protocol.VERSION, "name": "web test"}, *messages):
            await ws.send_str(json.dumps(msg))
        while not any(m["type"] == "ready" if last is None else m["type"] == "reply" and m["id"] == last
                      for m in seen):
            frame = await asyncio.wait_for(ws.receive(), 10)
            assert frame.type == aiohttp.WSMsgType.TEXT, frame
            seen += [json.loads(line) for line in frame.data.splitlines()]
    return seen


def _reply(messages, request):
    return next(m for m in messages if m["type"] == "reply" and m["id"] == request)


def test_a_browser_on_the_websocket_is_a_client_of_the_protocol_and_needs_command_authority(web, fw):
    background, url = web
    seen = asyncio.run(_ws(url))
    assert seen[0]["type"] == "welcome" and seen[0]["client"] == "#1 web test" and not seen[0]["token"]
    refused = _reply(asyncio.run(_ws(url, {"type": "command", "id": 1, "words": ["PING"]})), 1)
    assert refused == {"type": "reply", "id": 1, "ok": False, "kind": "authority",
                       "error": "#2 web test does not hold command authority (held by nobody): take it first"}
    assert fw.received == []
    done = asyncio.run(_ws(url, {"type": "take", "id": 1}, {"type": "command", "id": 2, "words": ["PING"]}))
    assert _reply(done, 2)["ok"]
    assert any(m["type"] == "command" and m["owner"] == "#3 web test" and m["tc"]["text"] == "PING" for m in done)
    wait_for(lambda: len(fw.received) == 1, what="the PING on the link")
    rows = background.server.archive.rows()
    assert [r.client for r in rows if r.direction == "TC"] == ["#3 web test"]
    assert "#3 web test joined from 127.0.0.1" in [r.text for r in rows if r.kind == "CLIENT"]


def test_a_page_of_another_site_can_neither_open_the_stream_nor_call_the_api(web):
    _background, url = web
    with pytest.raises(aiohttp.WSServerHandshakeError, match="403"):
        asyncio.run(_ws(url, origin="http://evil.example"))
    status, _type, text = _get(url + "api/check", {"Origin": "http://evil.example"}, {"words": ["PING"]})
    assert status == 403 and "cross-origin" in text
    assert asyncio.run(_ws(url, origin=url.rstrip("/")))[0]["type"] == "welcome"  # its own pages may


def test_a_request_naming_another_host_is_refused_so_a_rebound_name_cannot_reach_it(web):
    _background, url = web
    status, _type, text = _get(url + "api/dictionary", {"Host": "evil.example:%s" % url.split(":")[2].strip("/")})
    assert status == 403 and "does not name this ground server" in text
    assert _get(url.replace("127.0.0.1", "localhost") + "api/dictionary")[0] == 200


def test_a_web_console_beyond_loopback_answers_only_requests_naming_this_machine(fw, archive):
    background = Background(Server(fw.url, archive, remote_token="printed"), http=("0.0.0.0", 0))
    try:
        port = background.server.web_url.rsplit(":", 1)[1].strip("/")
        local = "http://127.0.0.1:%s/api/dictionary" % port

        def status(host):
            return _get(local, {"Host": "%s:%s" % (host, port)})[0]

        assert status(socket.gethostname()) == 200  # the machine's name
        assert status("192.0.2.7") == 200  # an address: no name was made to resolve here
        assert status("localhost") == 200
        assert status("evil.example") == 403  # a name rebound to this machine
    finally:
        background.stop()


def test_a_binary_message_on_the_stream_is_refused_with_the_reason_and_the_connection_closed(web):
    async def scenario():
        async with aiohttp.ClientSession() as session, session.ws_connect(web[1].replace("http", "ws") + "ws") as ws:
            await ws.send_bytes(b"\x00\x01")
            error = await asyncio.wait_for(ws.receive(), 10)  # told first, then closed
            closed = await asyncio.wait_for(ws.receive(), 10)
            return json.loads(error.data), closed.type

    error, closed = asyncio.run(scenario())
    assert error == {"type": "error", "message": "text messages only: each a protocol %d message" % protocol.VERSION}
    assert closed in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def test_archive_rows_are_filtered_by_type_time_and_command_and_exported_as_csv_and_json_lines(web, fw):
    background, url = web
    with Client(background.url, name="alice", timeout=FAST) as alice:
        alice.take()
        fw.send_hk()
        alice.send("PING")
        v = alice.send("FIRE", 2, confirm=True)
        alice.await_event("RELEASED", since=v.mark)  # the fake payload's
    everything = _json(url + "api/rows?session=current")["rows"]
    assert {r["type"] for r in everything} >= {"TM", "TC", "EVENT", "CLIENT", "AUTHORITY", "COMMAND"}
    fire = _json(url + "api/rows?command=FIRE")["rows"]
    assert [(r["type"], r["name"]) for r in fire] == [("TC", "FIRE"), ("TM", "ACCEPTED"), ("TM", "STARTED"),
                                                     ("TM", "PROGRESS"), ("TM", "COMPLETED"), ("COMMAND", "COMMAND")]
    assert fire[0]["text"] == "FIRE 2" and fire[0]["client"] == "#1 alice"
    events = _json(url + "api/rows?type=EVENT")["rows"]
    assert [r["name"] for r in events] == ["RELEASED"] and events[0]["severity"] == "INFO"
    later = _json(url + "api/rows?since=" + fire[0]["time"])["rows"]
    assert later[0]["time"] >= fire[0]["time"] and len(later) < len(everything)
    status, content_type, text = _get(url + "api/rows?command=FIRE&format=csv")
    assert status == 200 and content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in table] == [r["name"] for r in fire] and table[0]["client"] == "#1 alice"
    status, _type, text = _get(url + "api/rows?type=TC&format=jsonl")
    assert [json.loads(line)["text"] for line in text.splitlines()] == ["PING", "FIRE 2"]
    status, _type, text = _get(url + "api/rows?type=NOPE")
    assert status == 400 and "--type: unknown NOPE" in text


def test_the_command_filter_finds_a_command_scheduled_inside_sched_insert_with_its_reports(web, fw):
    background, url = web
    with Client(background.url, name="alice", timeout=FAST) as alice:
        alice.take()
        alice.send("FIRE_SEQUENCE", [1, 3], 0, confirm=True)
        alice.send("SCHED_INSERT", 30000, 0, "FIRE", 4, confirm=True)
        alice.send("PING")
    rows = _json(url + "api/rows?command=fire")["rows"]  # a name as typed: any case
    assert [r["text"] for r in rows if r["type"] == "TC"] == ["SCHED_INSERT 30000 0 [FIRE 4]"]
    assert [r["name"] for r in rows if r["type"] != "TC"] == ["ACCEPTED", "STARTED", "COMPLETED", "COMMAND"]


def test_an_archive_query_a_server_cannot_answer_is_told_in_one_line(web, fw):
    _background, url = web
    for query, why in (("rows?session=last", "session: 'last' is not a session number"),
                       ("rows?since=yesterday", "since: 'yesterday' is not a time like"),
                       ("rows?command=LAUNCH", "unknown command 'LAUNCH'"),
                       ("rows?format=xml", "format: json, csv or jsonl")):
        status, _type, text = _get(url + "api/" + query)
        assert status == 400 and why in text and text.count("\n") == 1, (query, text)
    status, _type, text = _get(url + "api/check", body=["FIRE", "2"])
    assert status == 400 and text == "a JSON object\n"


def test_a_server_without_an_archive_serves_the_live_pages_and_says_it_keeps_no_archive(fw):
    background = Background(Server(fw.url, None, timeout=FAST), http=("127.0.0.1", 0))
    try:
        url = background.server.web_url
        assert _get(url)[0] == 200 and _json(url + "api/dictionary")["slots"] == d.N_SLOTS
        assert _get(url + "api/sessions")[:3:2] == (404, "this server keeps no archive\n")
    finally:
        background.stop()


def test_housekeeping_over_time_comes_in_engineering_units_with_an_invalid_reading_as_none(web, fw):
    background, url = web
    with Client(background.url, name="watch", timeout=FAST) as c:
        fw.send_hk(temperature=215, arm_left=30)
        fw.send_hk(temperature=d.TEMP_INVALID)
        c.await_hk(temperature="INVALID")
    series = _json(url + "api/hk?session=current")
    assert series["fields"]["temperature"] == [21.5, None] and series["fields"]["arm_left"] == [30, 0]
    assert len(series["t"]) == 2 and series["t"][0] <= series["t"][1]
    assert _json(url + "api/sessions")["current"] == background.server.archive.session


class _SlowWebSocket:
    """A WebSocket whose browser takes a message only when told to."""

    def __init__(self):
        self.sent = []
        self.take = asyncio.Event()

    async def send_frame(self, message, opcode):
        await self.take.wait()
        self.take.clear()
        self.sent.append(message)

    async def close(self):
        pass


class _Tcp:
    def get_extra_info(self, name, default=None):
        return default

    def abort(self):
        pass


def test_a_browser_that_does_not_keep_up_is_paused_loses_telemetry_and_is_dropped_past_the_hard_limit():
    async def scenario():
        peer = Peer(server=None)
        peer.name = "#1 web slow"
        ws = _SlowWebSocket()
        transport = _WebSocketTransport(ws, _Tcp(), peer)
        transport.set_write_buffer_limits(high=QUEUE_BYTES, low=QUEUE_BYTES // 4)
        peer.transport = transport
        pump = asyncio.create_task(transport.pump())
        tm, command = b"t" * (64 << 10), b"c" * 100
        for _ in range(QUEUE_BYTES // len(tm) + 1):
            peer.send(tm, [(tm, True)])
        assert peer.paused and peer.dropped == 0
        peer.send(tm + command, [(tm, True), (command, False)])  # paused: telemetry dropped, the command kept
        assert peer.dropped == 1
        ws.take.set()  # the browser takes the first message: everything queued so far, in one
        await asyncio.sleep(0.01)
        assert not peer.paused and ws.sent[0].endswith(command)
        while transport.get_write_buffer_size() <= HARD_LIMIT:
            peer.send_now(command * 1000)
        peer.send_now(command)
        assert peer.why.startswith("too slow") and transport.is_closing()
        pump.cancel()

    asyncio.run(scenario())


def test_serve_with_a_malformed_http_address_says_so_in_one_line(fw, capsys):
    assert main(["serve", fw.url, "--http", "nonsense", "--db", "unused.sqlite"]) == 2
    assert capsys.readouterr().err == "ground: --http: 'nonsense' is not HOST:PORT (like 127.0.0.1:7011)\n"


@pytest.mark.parametrize("argv, generated", [(["--http"], False), (["--http", "0.0.0.0:7011"], True),
                                             (["--http", "0.0.0.0:7011", "--token", "given"], False)])
def test_a_web_console_beyond_loopback_without_a_token_gets_one_made_at_start_and_printed_once(
        fw, tmp_path, monkeypatch, capsys, argv, generated):
    served = []
    monkeypatch.setattr(server, "run", lambda s, host, port, console, http: served.append((s, http)))
    assert main(["serve", fw.url, "--db", str(tmp_path / "a.sqlite"), *argv]) == 0
    (s, http), = served
    assert http == (("0.0.0.0", 7011) if len(argv) > 1 else ("127.0.0.1", 7011))
    token = s.authority.remote_token
    assert (token is not None and len(token) >= 16) == generated
    s.web_url = "http://0.0.0.0:7011/"
    server._announce_web(s)
    line = capsys.readouterr().out
    assert line.startswith("web: http://0.0.0.0:7011/") and (token in line if generated else "token" not in line)
