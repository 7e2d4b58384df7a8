"""The ground server with a fake payload: many clients, one link, command authority, robustness."""

import json
import os
import queue
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from firmware import dictionary as d
from ground import errors, protocol, server
from ground.__main__ import main
from ground.archive import COMMIT_WINDOW, Archive
from ground.client import COMPLETED, NOT_SENT, PENDING, Client
from ground.codec import decode
from ground.console import Console, open_client
from ground.errors import AuthorityError, LinkError, UsageError
from ground.link import DOWN, UP
from ground.server import Background, Server
from tests.ground.conftest import FAST
from tests.ground.test_console import SIZE, _shown, _text, _type, _until, pilot_test

ROOT = Path(__file__).parents[2]
KILLS = 3
LINE_BURST = 29  # HK reports a 921600-baud line carries in 20 ms
COMMIT_SLACK = 0.2  # s a commit itself may take on a loaded machine (an fsync), beyond the window


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "%s not met within %g s" % (what, timeout)
        time.sleep(0.02)
    return value


@pytest.fixture
def serve(fw, archive):
    """Start a server on the fake payload (options as Server's); stopped after the test."""
    started = []

    def start(**options):
        options.setdefault("timeout", FAST)
        options.setdefault("retries", 1)
        started.append(Background(Server(fw.url, archive, **options)))
        return started[-1].url

    yield start
    for background in started:
        background.stop()


@pytest.fixture
def url(serve):
    return serve()


@pytest.fixture
def join(url):
    """Clients of the server, closed after the test: join(name, **Client options)."""
    clients = []

    def client(name, **options):
        options.setdefault("timeout", FAST)
        clients.append(Client(url, name=name, **options))
        return clients[-1]

    yield client
    for c in clients:
        c.close()


def _raw(url, hello=True):
    """A bare socket on the server, past the snapshot if ``hello``: (socket, its line reader)."""
    s = socket.create_connection(protocol.parse_url(url), timeout=5)
    lines = s.makefile("rb")
    if hello:
        s.sendall(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": "raw"}))
        while json.loads(lines.readline())["type"] != "ready":
            pass
    return s, lines


def _until_closed(lines, timeout=5.0):
    """Every message until the server closes the connection (within ``timeout`` s)."""
    messages, deadline = [], time.monotonic() + timeout
    while line := lines.readline():
        messages.append(json.loads(line))
        assert time.monotonic() < deadline, "the server did not close the connection: %s" % messages[-3:]
    return messages


def test_a_client_through_the_server_commands_and_verifies_as_on_the_link(join, fw):
    alice = join("alice")
    assert isinstance(alice.link, type(alice.link)) and alice.link.state == UP
    alice.take()
    v = alice.send("FIRE", 2, confirm=True)
    assert v.status == COMPLETED and [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "PROGRESS", "COMPLETED"]
    assert v.owner == alice.name == "#1 alice" and v.request_id == fw.received[-1]
    alice.await_event("RELEASED", since=v.mark, slot=2, timeout=1)
    with pytest.raises(UsageError, match="only the server writes to the payload link"):
        alice.link.write_raw(b"noise")


def test_every_client_sees_every_command_and_its_stages_marked_with_its_owner(join):
    seen = []
    bob = join("bob", on_stage=lambda v, stage: seen.append((v.owner, str(v.command), stage.name)))
    alice = join("alice")
    alice.take()
    v = alice.send("PING")
    wait_for(lambda: len(seen) == 3, what="bob seeing alice's PING")
    assert seen == [("#2 alice", "PING", stage) for stage in ("ACCEPTED", "STARTED", "COMPLETED")]
    assert bob.await_record(lambda r: r.name == "PONG", since=0, timeout=1).ground_time >= v.sent_at


def test_a_client_without_command_authority_is_refused_and_nothing_is_sent(join, fw):
    alice, bob = join("alice"), join("bob")
    alice.take()
    with pytest.raises(AuthorityError, match="#2 bob does not hold command authority .held by #1 alice.: take it"):
        bob.send("PING")
    time.sleep(0.1)
    assert fw.received == []


def test_a_forced_take_over_is_shown_on_every_client_and_logged(join, archive):
    alice, bob, carol = join("alice"), join("bob"), join("carol")
    alice.take()
    with pytest.raises(AuthorityError, match="held by #1 alice .take it over with force."):
        bob.take()
    bob.take(force=True)
    for c in (alice, bob, carol):
        wait_for(lambda c=c: c.authority == "#2 bob", what="%s seeing bob's authority" % c.name)
        assert c.notices[-1][1] == "command authority taken over from #1 alice by #2 bob (forced)"
    with pytest.raises(AuthorityError):
        alice.send("PING")
    assert ("AUTHORITY", "command authority taken over from #1 alice by #2 bob (forced)") in [
        (r.kind, r.text) for r in archive.rows() if r.direction == "LOG"]


def test_command_authority_is_released_when_its_holder_disconnects(join):
    alice, bob = join("alice"), join("bob")
    alice.take()
    wait_for(lambda: bob.authority == "#1 alice")
    alice.close()
    wait_for(lambda: bob.authority is None, what="authority freed")
    bob.take()
    assert bob.send("PING").ok


def test_request_ids_come_from_the_server_so_clients_never_reuse_one(join, fw):
    alice, bob = join("alice"), join("bob")
    assert alice.build("PING").request_id == bob.build("PING").request_id  # a preview: the server numbers it
    sent = []
    for _ in range(3):
        for c in (alice, bob):
            c.take(force=True)
            sent.append(c.send("PING").request_id)
    assert fw.received == sent and len(set(sent)) == 6
    assert [rid - sent[0] for rid in sent] == list(range(6))


def test_a_client_joining_mid_pass_gets_the_latest_hk_recent_events_and_commands_in_flight_at_once(join, fw):
    fw.silent.add("SAFE")  # accepted and started, never completed: still in flight when carol joins
    alice = join("alice", timeout=30)
    alice.take()
    fw.send_event(d.EV_ARMED, 60)
    fw.send_hk(state=d.ARMED, arm_left=42)
    safe = alice.submit("SAFE")
    alice.await_record(lambda r: r.name == "STARTED", since=safe.mark, timeout=2)
    wait_for(lambda: alice.latest_hk is not None)
    seen = []
    carol = join("carol", on_stage=lambda v, stage: seen.append((v.owner, str(v.command), stage.name, v.status)))
    assert carol.latest_hk.values["state"] == d.ARMED and carol.latest_hk.values["arm_left"] == 42
    assert [r.event for r in carol.records() if r.event] == ["ARMED"]
    assert seen == [("#1 alice", "SAFE", "ACCEPTED", PENDING), ("#1 alice", "SAFE", "STARTED", PENDING)]
    assert carol.authority == "#1 alice" and carol.link.state == UP
    with pytest.raises(Exception, match="no EVENT"):  # next_event starts after the snapshot, as on a link
        carol.next_event(timeout=0.1)


def test_a_client_of_another_protocol_version_is_told_which_one_the_server_speaks(url):
    s, lines = _raw(url, hello=False)
    s.sendall(protocol.encode({"type": "hello", "protocol": 2, "name": "future"}))
    assert _until_closed(lines) == [{"type": "error", "message": "protocol 2 is not spoken here: this server (%s) "
                                     "speaks protocol 1" % server.software_version()}]


def test_a_server_of_another_protocol_version_is_refused_by_the_client_in_one_line():
    listener = socket.create_server(("127.0.0.1", 0))

    def future_server():
        conn, _ = listener.accept()
        conn.recv(1000)
        conn.sendall(protocol.encode({"type": "welcome", "protocol": 2, "client": "x", "two_person": False,
                                      "link": "loop://"}))
        time.sleep(0.5)
        conn.close()

    threading.Thread(target=future_server, daemon=True).start()
    url = "ground://127.0.0.1:%d" % listener.getsockname()[1]
    with pytest.raises(LinkError, match="^%s speaks protocol 2; this client speaks 1: use the same ground software"
                       % url):
        Client(url)
    listener.close()


@pytest.mark.parametrize("junk, why", [
    (b"GET / HTTP/1.1\r\n", "not a JSON message"),
    (b"\x00" * (protocol.MAX_LINE + 1), "a message longer than %d bytes" % protocol.MAX_LINE),
    (protocol.encode({"type": "command", "id": 1}), "malformed command request"),
    (protocol.encode({"type": "shutdown", "id": 1}), "no request of type 'shutdown'"),
])
def test_a_client_sending_garbage_is_told_why_and_dropped_while_the_others_carry_on(url, join, fw, junk, why):
    alice = join("alice")
    alice.take()
    s, lines = _raw(url)
    s.sendall(junk)
    messages = _until_closed(lines)
    assert messages[-1]["type"] == "error" and why in messages[-1]["message"]
    assert alice.send("PING").ok and alice.link.state == UP


def test_a_client_flooding_requests_is_dropped_while_the_others_carry_on(url, join):
    alice = join("alice")
    alice.take()
    s, lines = _raw(url)
    s.sendall(b"".join(protocol.encode({"type": "release", "id": i}) for i in range(server.FLOOD_BURST + 50)))
    assert _until_closed(lines)[-1] == {"type": "error", "message": "more than %d messages per second: flooding"
                                        % server.FLOOD_RATE}
    assert alice.send("PING").ok


def test_a_slow_client_loses_telemetry_counted_and_told_while_the_others_get_every_packet(url, join, fw):
    fast = join("fast")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and the kernel holds little for it
    slow.connect(protocol.parse_url(url))
    slow.sendall(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": "slow"}))
    time.sleep(0.2)  # it reads nothing from here on
    n = 3000  # about 4 MB of messages: more than the server holds for a client (its queue and the kernel's)
    for i in range(n):
        fw.send_hk(uptime=i)
        if i % LINE_BURST == LINE_BURST - 1:
            time.sleep(0.02)  # as a 921600-baud line delivers them (1440 a second), not all at once
    wait_for(lambda: sum(r.name == "HK" for r in fast.records()) == n, timeout=20, what="every HK at the fast client")
    assert [r.values["uptime"] for r in fast.records() if r.name == "HK"] == list(range(n))
    assert fast.link.counters()["dropped"] == 0
    slow.settimeout(10)
    lines, got, dropped = slow.makefile("rb"), 0, 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and got + dropped < n:  # now it reads: what it lost, its status says
        msg = json.loads(lines.readline())
        got += msg["type"] == "tm"
        dropped = msg["dropped"] if msg["type"] == "status" else dropped
    assert 0 < got < n <= got + dropped  # every packet either arrived or was counted as lost
    slow.close()


def test_a_client_gone_mid_command_leaves_the_command_to_the_server_and_the_others_see_it_end(join, fw):
    fw.silent.add("SAFE")
    ended = []
    alice, bob = join("alice", timeout=30), join("bob", on_finish=ended.append)
    alice.take()
    v = alice.submit("SAFE")
    bob.await_record(lambda r: r.name == "STARTED" and r.request_id == v.request_id, since=0, timeout=2)
    alice.close()
    assert v.status == "TIMEOUT" and "lost the connection" in v.reason  # alice no longer knows
    fw.silent.clear()
    fw._report(7, v.request_id)  # the payload completes it after all
    wait_for(lambda: ended, what="bob seeing the command end")
    assert (ended[0].owner, ended[0].status, ended[0].request_id) == ("#1 alice", COMPLETED, v.request_id)
    wait_for(lambda: bob.authority is None)


def test_the_server_survives_the_link_going_away_and_coming_back_and_every_client_sees_it(join, fw):
    alice, bob = join("alice"), join("bob")
    alice.take()
    assert alice.send("PING").ok
    fw.stop()
    for c in (alice, bob):
        wait_for(lambda c=c: c.link.state == DOWN, what="%s seeing the link DOWN" % c.name)
    assert alice.send("PING", retries=0, check=False).status == NOT_SENT
    fw.start()
    for c in (alice, bob):
        wait_for(lambda c=c: c.link.state == UP, what="%s seeing the link UP again" % c.name)
    assert alice.send("PING").ok
    wait_for(lambda: alice.link.counters()["reconnects"] == 1, what="the reconnection counted")  # at the next status
    assert [t for _, t in bob.notices if "link" in t][-2:] == [
        "link to %s DOWN" % fw.url, "link to %s UP" % fw.url]


def test_the_server_reads_its_link_on_its_own_loop_before_and_after_the_link_comes_back(fw, archive, monkeypatch):
    readers = set()  # the threads that decoded a frame from the link
    packet = Client._packet
    monkeypatch.setattr(Client, "_packet", lambda c, raw, t: readers.add(threading.current_thread().name) or
                        packet(c, raw, t))
    with Background(Server(fw.url, archive, timeout=FAST)) as b, Client(b.url, name="alice", timeout=FAST) as alice:
        alice.take()
        assert alice.send("PING").ok
        fw.stop()
        wait_for(lambda: alice.link.state == DOWN, what="the link DOWN")
        fw.start()
        wait_for(lambda: alice.link.state == UP, what="the link UP again")
        assert alice.send("PING").ok
    assert readers == {"ground-server"}  # the loop's (Background's) thread: no hand-off from a reader thread


def test_a_client_reconnects_when_the_server_comes_back(fw, archive):
    first = Background(Server(fw.url, archive, timeout=FAST))
    port = int(first.url.rsplit(":", 1)[1])
    c = Client(first.url, name="alice", timeout=FAST)
    try:
        first.stop()
        wait_for(lambda: c.link.state == DOWN, what="the client seeing the server gone")
        second = Background(Server(fw.url, archive, timeout=FAST), port=port)
        try:
            wait_for(lambda: c.link.state == UP, timeout=10, what="the client back on the server")
            assert c.link.reconnects == 1 and c.authority is None  # authority is never taken back by itself
            assert c.name == "#1 alice"  # the new server's first client, under the name it gave
            c.take()
            assert c.send("PING").ok
        finally:
            second.stop()
    finally:
        c.close()


def test_two_person_rule_holds_a_hazardous_command_until_another_operator_approves_it(serve, fw, archive):
    url = serve(two_person=True)
    alice = Client(url, name="alice", timeout=FAST)
    bob = Client(url, name="bob", timeout=FAST)
    try:
        alice.take()
        assert alice.send("PING").ok  # harmless: not held
        v = alice.submit("FIRE", 2, confirm=True)
        assert v.held == 1 and v.status == PENDING
        wait_for(lambda: 1 in bob.approvals, what="bob seeing the approval asked")
        assert bob.approvals[1]["text"].startswith("FIRE 2: release slot 2") and bob.approvals[1]["answer"] == "2"
        time.sleep(0.2)
        assert len(fw.received) == 1  # the PING only
        with pytest.raises(AuthorityError, match="another operator than #1 alice"):
            alice.approve(1)
        bob.approve(1)
        assert v.wait(5) and v.ok and v.approver == "#2 bob" and v.held is None
        tc_rows = [r for r in archive.rows() if r.direction == "TC"]
        assert (tc_rows[-1].client, tc_rows[-1].approver) == ("#1 alice", "#2 bob")
        wait_for(lambda: not bob.approvals)
    finally:
        alice.close()
        bob.close()


@pilot_test
async def test_two_person_rule_the_second_person_approves_in_the_console_by_typing_the_same_answer(serve, fw):
    url = serve(two_person=True)
    with Client(url, name="alice", timeout=FAST) as alice:
        alice.take()
        v = alice.submit("FIRE", 2, confirm=True)
        inbox = queue.SimpleQueue()
        with open_client(url, inbox, timeout=FAST) as client:
            console = Console(client, inbox)
            async with console.run_test(size=SIZE) as pilot:
                await pilot.pause(0.3)
                log = " ".join(_text(console, "#commands").split())
                assert "APPROVAL 1 asked by #1 alice: FIRE 2: release slot 2, burning" in log
                assert log.endswith("Type approve 1 to approve it")
                await _type(pilot, "approve 1")
                assert "Type 2 and Enter to approve it" in _text(console, "#hint")
                await _type(pilot, "3")
                assert "approval 1 cancelled: confirmation did not match" in _text(console, "#hint")
                assert fw.received == [] and v.status == PENDING
                await _type(pilot, "approve 1")
                await _type(pilot, "2")
                assert v.wait(5) and v.ok and v.approver == client.name
                assert "approval 1 given" in _text(console, "#hint")


@pilot_test
async def test_the_console_shows_who_holds_command_authority_even_at_80_columns(url, join):
    other = join("bob")
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=FAST) as client:
        console = Console(client, inbox)
        async with console.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            assert _shown(console, "#link").startswith("LINK UP AUTHORITY nobody ")
            await _type(pilot, "take")
            assert _shown(console, "#link").startswith("LINK UP AUTHORITY this console ")
            other.take(force=True)
            await pilot.pause(0.3)
            assert _shown(console, "#link").startswith("LINK UP AUTHORITY #1 bob ")


@pilot_test
async def test_through_the_server_a_console_greys_the_state_and_refuses_commands_once_the_servers_link_drops(
        url, fw):
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=FAST) as client:
        client.take()
        console = Console(client, inbox)
        async with console.run_test(size=SIZE) as pilot:
            fw.send_hk(state=d.ARMED)
            await _until(pilot, lambda: "STATE ARMED" in _text(console, "#controller"), "the HK shown")
            assert "STALE" not in _text(console, "#controller")
            fw.stop()
            await _until(pilot, lambda: "LINK DOWN" in _text(console, "#link"), "the server's link DOWN")
            await pilot.pause(0.2)
            assert "STATE ARMED" in _text(console, "#controller") and "STALE: not the state now" in _text(
                console, "#controller")
            assert "AUTHORITY this console" in _text(console, "#link")
            await _type(pilot, "PING")
            assert _text(console, "#hint").startswith("link DOWN: PING not sent (")
            assert console.active == []  # refused as typed, not sent to the server to time out


def test_two_person_rule_a_command_nobody_approves_expires_unsent(serve, fw):
    url = serve(two_person=True, approval_timeout=0.3)
    with Client(url, name="alice") as alice:
        alice.take()
        v = alice.send("ARM", confirm=True, check=False)
        assert v.status == NOT_SENT and "NOT approved within 0.3 s" in v.reason and fw.received == []


def test_two_person_rule_a_held_command_is_cancelled_when_its_owner_loses_authority(serve, fw):
    url = serve(two_person=True)
    with Client(url, name="alice") as alice, Client(url, name="bob") as bob:
        alice.take()
        v = alice.submit("ARM", confirm=True)
        bob.take(force=True)
        assert v.wait(2) and v.status == NOT_SENT and "lost command authority" in v.reason
        with pytest.raises(UsageError, match="no command waits for approval number 1"):
            bob.approve(1)
        assert fw.received == []


def test_two_person_rule_the_sender_withdraws_its_held_command_and_it_is_never_sent(serve, fw, archive):
    url = serve(two_person=True)
    with Client(url, name="alice") as alice, Client(url, name="bob") as bob:
        alice.take()
        v = alice.submit("FIRE", 2, confirm=True)
        s, lines = _raw(url)
        s.sendall(protocol.encode({"type": "withdraw", "id": 7, "ref": 1}))  # not its command
        assert _reply(lines, 7)["error"] == "no command of yours numbered 1 waits for approval"
        s.close()
        alice.withdraw(v)
        assert v.wait(2) and v.status == NOT_SENT and v.reason == "withdrawn by its sender: not sent"
        with pytest.raises(UsageError, match="no command waits for approval number 1"):
            bob.approve(1)
        with pytest.raises(UsageError, match="FIRE 2 is not a command of this client in flight"):
            alice.withdraw(v)
    assert fw.received == []
    assert any("withdrawn by its sender" in r.text for r in archive.rows(kind="APPROVAL"))


def _reply(lines, rid):
    """The reply to request ``rid`` among the messages that come."""
    while (msg := json.loads(lines.readline()))["type"] != "reply" or msg["id"] != rid:
        pass
    return msg


def test_a_clients_procedure_lines_go_to_the_servers_archive_under_its_name_and_no_other_kind(join, archive):
    alice = join("alice")
    alice.log([(1000.0, "PROCEDURE", "one"), (1001.0, "PROCEDURE", "two")])
    with pytest.raises(UsageError, match="a client logs PROCEDURE lines, not AUTHORITY: the other kinds are the "
                                         "server's own"):
        alice.log([(1002.0, "AUTHORITY", "command authority taken by nobody")])
    assert [(r.t, r.text, r.client, r.session) for r in alice.rows(kind="PROCEDURE")] == [
        (1000.0, "one", "#1 alice", archive.session), (1001.0, "two", "#1 alice", archive.session)]
    assert alice.unlogged == 0 and not [r for r in archive.rows(kind="AUTHORITY") if "nobody" in r.text]


def test_log_lines_longer_than_one_message_go_in_several_and_one_too_long_is_refused_in_one_line(join, archive):
    alice = join("alice")
    alice.log([(float(t), "PROCEDURE", "x" * 10000) for t in range(20)])  # 200 kB: four messages at least
    assert [r.t for r in archive.rows(kind="PROCEDURE")] == [float(t) for t in range(20)]
    with pytest.raises(UsageError, match="a PROCEDURE line of %d bytes is longer than a client may send the server"
                                         % protocol.MAX_LINE):
        alice.log([(99.0, "PROCEDURE", "x" * protocol.MAX_LINE)])
    assert alice.link.state == UP and alice.sessions()  # it never went: still a client of the server


def test_a_server_without_an_archive_refuses_a_clients_lines_so_nothing_is_flown_unrecorded(fw):
    with Background(Server(fw.url, None, timeout=FAST)) as b, Client(b.url, name="alice") as alice:
        with pytest.raises(UsageError, match="this server keeps no archive: nothing would record what #1 alice logs"):
            alice.log([(1.0, "PROCEDURE", "x")])
        assert alice.unlogged == 0


def test_a_procedure_line_that_is_no_runs_entry_is_replayed_as_text_and_is_no_run(join, capsys):
    alice = join("alice")
    alice.log([(1000.0, "PROCEDURE", "not an entry")])
    url = alice.link.url
    assert main(["replay", url, "--type", "PROCEDURE"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "1970-01-01T00:16:40.000Z PROCEDURE not an entry"
    assert main(["proc", "replay", url]) == 2
    assert capsys.readouterr().err == "ground: server %s has no procedure run\n" % url


def test_a_server_with_a_token_gives_command_authority_only_with_it(serve):
    url = serve(token="s3cret")
    with Client(url, name="guess", token="") as guess, Client(url, name="ops", token="s3cret") as ops:
        with pytest.raises(AuthorityError, match="needs this server's token"):
            guess.take()
        ops.take()
        assert ops.send("PING").ok


def test_serving_beyond_loopback_without_a_token_is_refused_in_one_line(capsys, monkeypatch):
    monkeypatch.delenv("GROUND_TOKEN", raising=False)
    assert main(["serve", "loop://", "--listen", "0.0.0.0:0"]) == 2
    assert capsys.readouterr().err == ("ground: listening on 0.0.0.0 (not loopback) needs a token for command "
                                       "authority: --token or GROUND_TOKEN\n")


@pytest.mark.parametrize("address, on_loopback", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
    ("::ffff:127.0.0.1", True),  # an IPv4 client of a dual-stack listener
    ("192.0.2.7", False), ("::ffff:192.0.2.7", False), ("fd00::2", False), ("desk.example", False)])
def test_only_a_loopback_address_counts_as_this_machine_for_the_token_beyond_loopback(address, on_loopback):
    assert server.loopback(address) is on_loopback


def test_serve_refuses_a_servers_url_as_its_link(capsys):
    assert main(["serve", "ground://127.0.0.1:1", "--listen", "127.0.0.1:0"]) == 2
    assert "give its pyserial URL, not a server's" in capsys.readouterr().err


def test_a_tool_given_the_servers_link_is_refused_in_one_line_naming_the_server_and_its_clients_carry_on(
        url, join, fw, capsys, monkeypatch):
    alice = join("alice")
    alice.take()
    opened = []
    monkeypatch.setattr(serial, "serial_for_url", lambda u, **kw: opened.append(u))
    assert main(["monitor", fw.url, "--duration", "1"]) == errors.LINK
    assert capsys.readouterr().err == ("ground: %s is taken by the ground server at %s (pid %d): one tool per link "
                                       "(close it, or use the ground server)\n" % (fw.url, url, os.getpid()))
    assert opened == []  # the refused tool never opened the port
    monkeypatch.undo()
    assert alice.send("PING").ok and alice.link.state == UP


def test_record_through_the_server_keeps_a_copy_with_the_commands_of_every_client(url, join, fw, tmp_path, capsys):
    alice = join("alice")
    alice.take()
    fw.send_hk(state=d.ARMED)
    wait_for(lambda: alice.latest_hk is not None)
    db = str(tmp_path / "copy.sqlite")
    recorder = threading.Thread(target=main, args=(["record", url, "--db", db, "--count", "5", "--duration", "5"],))
    recorder.start()
    wait_for(lambda: any(" record " in name for name in alice.clients), what="record joining")
    v = alice.send("PING")
    recorder.join(10)
    assert capsys.readouterr().out == "recorded 5 packets to %s\n" % db
    copy = Archive(db)
    rows, sessions = copy.rows(), copy.sessions()
    copy.close()
    assert [s.link for s in sessions] == [url] and {r.session for r in rows} == {1}
    assert decode(rows[0].packet).name == "HK"  # the latest housekeeping, from the snapshot
    tcs = [r for r in rows if r.direction == "TC"]
    assert [(r.packet[:4], r.client) for r in tcs] == [(v.request_id.to_bytes(4, "big"), "#1 alice")]


def test_replay_of_a_servers_archive_shows_who_sent_what_and_when(url, join, capsys):
    alice = join("alice")
    alice.take()
    v = alice.send("PING")
    assert main(["replay", url, "--type", "TC,AUTHORITY"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("=== session 1: ")
    assert lines[0].endswith(" AUTHORITY command authority taken by #1 alice")
    assert lines[1].endswith(" TC PING [0x%08X] by #1 alice" % v.request_id)


def test_killing_the_server_at_random_moments_loses_at_most_its_last_commit_window_never_the_archive(fw, tmp_path):
    db = str(tmp_path / "killed.sqlite")
    flooding = threading.Event()

    def flood():  # housekeeping all the time, about 500 reports a second
        while not flooding.is_set():
            try:
                fw.send_hk()
            except OSError:
                pass  # the server was killed: reports go nowhere until the next one connects
            time.sleep(0.002)

    threading.Thread(target=flood, daemon=True).start()
    rng = random.Random()
    seed = rng.randrange(1 << 32)
    rng.seed(seed)
    try:
        for kill in range(KILLS):
            proc = subprocess.Popen([sys.executable, "-m", "ground", "serve", fw.url, "--listen", "127.0.0.1:0",
                                     "--db", db], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            url = proc.stdout.readline().split()[-1]
            watcher = Client(url, name="watcher")
            time.sleep(rng.uniform(0.3, 1.0))
            killed_at = time.time()
            proc.kill()
            proc.wait()
            watcher.close()
            seen = {r.raw: r.ground_time for r in watcher.records() if r.name == "HK"}
            assert len(seen) > 50, "kill %d: too little traffic to judge" % kill
            db_check = sqlite3.connect(db)
            assert db_check.execute("PRAGMA integrity_check").fetchone() == ("ok",), "seed %d" % seed
            archived = {bytes(p) for p, in db_check.execute("SELECT packet FROM frames WHERE direction = 'TM'")}
            sessions = db_check.execute("SELECT id, end FROM sessions").fetchall()
            db_check.close()
            lost = sorted(killed_at - t for raw, t in seen.items() if raw not in archived)
            assert not lost or lost[-1] <= COMMIT_WINDOW + COMMIT_SLACK, (
                "kill %d (seed %d): a row %.3f s older than the kill is not in the archive" % (kill, seed, lost[-1]))
            assert sessions == [(i + 1, None) for i in range(kill + 1)]  # each cut short, none lost
    finally:
        flooding.set()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stopped_by_a_signal_ends_its_session_and_exits_0(fw, tmp_path, sig):
    db = str(tmp_path / "stopped.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "ground", "serve", fw.url, "--listen", "127.0.0.1:0", "--db", db],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split()[-1]
    with Client(url, name="alice") as alice:
        alice.take()
        assert alice.send("PING").ok
        proc.send_signal(sig)
        assert proc.wait(10) == 0 and proc.stderr.read() == ""
        wait_for(lambda: alice.link.state == DOWN, what="the client seeing the server gone")
    archive = Archive(db)
    sessions, rows = archive.sessions(), archive.rows()
    archive.close()
    assert len(sessions) == 1 and sessions[0].end is not None
    assert [r.text for r in rows if r.kind == "CLIENT"] == ["#1 alice joined from 127.0.0.1", "#1 alice left"]


def test_procedure_requests_need_authority_a_shipped_procedure_and_a_flight(url, fw):
    s, lines = _raw(url)
    s.sendall(protocol.encode({"type": "proc_start", "id": 1, "procedure": "checkout.proc"}))
    assert "does not hold command authority" in _reply(lines, 1)["error"]
    s.sendall(protocol.encode({"type": "take", "id": 2}))
    assert _reply(lines, 2)["ok"]
    s.sendall(protocol.encode({"type": "proc_start", "id": 3, "procedure": "/etc/passwd"}))
    assert _reply(lines, 3)["error"].startswith("no shipped procedure /etc/passwd (there are: checkout.proc ")
    s.sendall(protocol.encode({"type": "proc_start", "id": 4, "procedure": "deploy-one.proc", "params": {"SLOT": 9}}))
    assert _reply(lines, 4)["error"] == "deploy-one.proc: param SLOT=9 is not one of SLOT=1..4"
    for i, kind in enumerate(("proc_answer", "proc_stop"), 5):
        s.sendall(protocol.encode({"type": kind, "id": i, "text": "GO"}))
        assert _reply(lines, i)["error"] == "no procedure is flying"
    s.close()
