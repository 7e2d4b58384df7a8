"""The ground server on the simulated board (the real firmware): several clients at once."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pexpect
import pytest

from firmware import dictionary as d
from ground import protocol
from ground.archive import Archive, open_existing
from ground.client import Client
from ground.console import Console, open_client
from ground.link import DOWN, UP
from ground.server import Background, Server
from tests.ground.test_console import SIZE, _text, _type, pilot_test
from tests.ground.test_server import wait_for
from tests.sim.simproc import BOOT_TIMEOUT, ROOT, Sim

TIMEOUT = 5.0  # s: verification timeout on a local link


def _ground(*argv, **popen):
    return subprocess.Popen([sys.executable, "-m", "ground", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _booted(url):
    """The board answers PING through the server (the client takes authority and gives it back)."""
    with Client(url, name="boot", timeout=0.5, retries=0) as c:
        c.take()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not c.send("PING", check=False).ok:
            assert time.monotonic() < deadline, "the simulated board did not answer PING"


pytestmark = pytest.mark.usefixtures("one_ground")


@pytest.fixture(scope="module")
def served(tmp_path_factory, ground_state):
    """A server on one simulated board for the module: (its URL, its archive)."""
    archive = Archive(str(tmp_path_factory.mktemp("server") / "archive.sqlite"))
    with Sim(app="firmware.app") as sim:
        background = Background(Server(sim.ports["link"], archive, timeout=TIMEOUT,
                                       seq_file=str(ground_state / "server_seq")))
        try:
            _booted(background.url)
            yield background.url, archive
        finally:
            background.stop()
            archive.close()


@pilot_test
async def test_a_console_monitor_send_and_a_script_work_one_board_together_through_the_server(served):
    url, _archive = served
    monitor = _ground("monitor", url, "--json", "--duration", "120")  # Ctrl-C ends it (the duration: a failed test)
    seen = []
    with Client(url, name="script", on_stage=lambda v, s: seen.append((v.owner, str(v.command), s.name))) as script:
        wait_for(lambda: any(" monitor " in name for name in script.clients), 30, "the monitor joined")
        inbox = queue.SimpleQueue()
        with open_client(url, inbox, timeout=TIMEOUT) as client:
            console = Console(client, inbox)
            async with console.run_test(size=SIZE) as pilot:
                await _type(pilot, "take")
                assert "AUTHORITY this console" in _text(console, "#link") and url in _text(console, "#link")
                await _type(pilot, "PING")
                await pilot.pause(0.5)
                assert "PING" in _text(console, "#commands") and "COMPLETED" in _text(console, "#commands")
                refused = _ground("send", url, "PING", "--timeout", "5")
                assert refused.wait(30) == 2
                assert re.fullmatch(r"ground: #\d+ send \S+ does not hold command authority \(held by %s\): take it "
                                    r"first \(--take takes command authority, --force takes it over\)\n"
                                    % re.escape(client.name), refused.stderr.read())
                await _type(pilot, "ARM")
                await _type(pilot, "ARM")  # the confirmation
                await pilot.pause(0.5)
                assert "ARM" in _text(console, "#commands") and "EVENT_INFO ARMED" in _text(console, "#events")
                await _type(pilot, "DISARM")
                await pilot.pause(0.5)
        wait_for(lambda: script.authority is None, what="the console's authority freed as it left")
    mine = [(cmd, stage) for owner, cmd, stage in seen if owner == client.name]
    assert ("PING", "COMPLETED") in mine and ("ARM", "COMPLETED") in mine and ("DISARM", "COMPLETED") in mine
    monitor.send_signal(signal.SIGINT)
    out, _err = monitor.communicate(timeout=30)
    records = [json.loads(line) for line in out.splitlines()]
    assert monitor.returncode == 0 and {"PONG", "HK"} <= {r["name"] for r in records}
    assert "ARMED" in {r.get("event") for r in records}


@pilot_test
async def test_a_forced_take_over_shows_in_the_consoles_header_and_log_and_stops_its_commands(served):
    url, archive = served
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=TIMEOUT) as client, Client(url, name="supervisor") as supervisor:
        console = Console(client, inbox)
        async with console.run_test(size=SIZE) as pilot:
            await _type(pilot, "take")
            supervisor.take(force=True)
            await pilot.pause(0.5)
            assert "AUTHORITY %s" % supervisor.name in _text(console, "#link")
            assert ("GROUND command authority taken over from %s by %s (forced)" % (client.name, supervisor.name)
                    in " ".join(_text(console, "#events").split()))  # as wrapped in the pane
            await _type(pilot, "PING")
            assert "does not hold command authority (held by %s)" % supervisor.name in _text(console, "#hint")
    assert any(r.kind == "AUTHORITY" and "(forced)" in r.text for r in archive.rows() if r.direction == "LOG")


def test_a_send_killed_mid_fire_leaves_the_release_to_finish_and_everyone_sees_it(served):
    url, archive = served
    with Client(url, name="script", timeout=TIMEOUT) as script:
        armed = _ground("send", url, "ARM", "--yes", "--take")
        assert armed.wait(30) == 0, armed.stderr.read()
        mark = script.position()
        fire = _ground("send", url, "FIRE", "2", "--yes", "--take")
        started = script.await_record(lambda r: r.name == "STARTED", since=mark, timeout=TIMEOUT)
        fire.send_signal(signal.SIGKILL)
        fire.wait(10)
        done = script.await_record(lambda r: r.name == "COMPLETED" and r.request_id == started.request_id,
                                   since=mark, timeout=TIMEOUT)
        script.await_event("RELEASED", since=mark, slot=2, timeout=TIMEOUT)
        wait_for(lambda: script.authority is None, what="the killed client's authority freed")
        script.take()
        assert script.send("DISARM").ok
    assert done.request_id == started.request_id
    sent = [r for r in archive.rows() if r.direction == "TC" and r.packet[:4] == started.request_id.to_bytes(4, "big")]
    assert len(sent) == 1 and sent[0].client.startswith("#") and " send " in sent[0].client


def test_a_slow_client_loses_housekeeping_counted_while_a_script_gets_every_report_and_commands(tmp_path):
    """The board sends housekeeping continuously at 921600 baud; one client does not read."""
    with Sim("--baud", "921600", app="firmware.app") as sim, \
            Background(Server(sim.ports["link"], None, timeout=TIMEOUT)) as background:
        _booted(background.url)
        with Client(background.url, name="script", timeout=TIMEOUT) as script:
            script.take()
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(protocol.parse_url(background.url))
            slow.sendall(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": "slow"}))
            script.send("HK_PERIOD", d.HK_SID, 0)
            mark = script.position()
            time.sleep(3.0)
            ping = script.send("PING")  # a command in the flood still completes at once
            script.send("HK_PERIOD", d.HK_SID, 1000)
            hk = [r for r in script.records(mark) if r.name == "HK"]
            # it reads the megabyte queued for it, then a status (one a second) tells it what it lost:
            # seconds on a loaded host, so a generous bound, and a socket timeout so no read hangs
            slow.settimeout(30)
            lines, status = slow.makefile("rb"), {"dropped": 0}
            deadline = time.monotonic() + 30
            while not status["dropped"] and time.monotonic() < deadline:
                msg = json.loads(lines.readline())
                status = msg if msg["type"] == "status" else status
            slow.close()
    # a flood: over 300 reports a second in 3 s (the sim's UART blocks like the board's: about
    # 1,000 HK/s at 921600 on a loaded 2-core host, docs/PERFORMANCE.md "efficiency")
    assert len(hk) > 1000 and ping.ok and ping.attempts == 1  # completed at its first send: nothing held it up
    received = script.records(mark)
    assert all((b.seq - a.seq) & 0x3FFF == 1 for a, b in zip(received, received[1:], strict=False)), "a TM lost"
    assert script.link.counters()["dropped"] == 0 and status["dropped"] > 0


def test_the_server_rides_out_the_board_going_away_and_coming_back():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    with Sim("--link-port", port, app="firmware.app") as first:
        background = Background(Server(first.ports["link"], None, timeout=TIMEOUT))
        _booted(background.url)
        watcher = Client(background.url, name="watcher")
    try:
        wait_for(lambda: watcher.link.state == DOWN, what="the link DOWN at the watcher")
        with Sim("--link-port", port, app="firmware.app"):
            wait_for(lambda: watcher.link.state == UP, timeout=BOOT_TIMEOUT, what="the link UP again")
            _booted(background.url)
            assert watcher.link.counters()["reconnects"] >= 1
            assert [t for _, t in watcher.notices if t.startswith("link")][-2:] == [
                "link to socket://127.0.0.1:%s DOWN" % port, "link to socket://127.0.0.1:%s UP" % port]
    finally:
        watcher.close()
        background.stop()


def test_make_run_starts_board_server_and_console_others_join_and_ctrl_q_stops_them_all(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = pexpect.spawn(sys.executable, ["-m", "sim", "--console"], cwd=str(tmp_path), env=env, encoding="utf-8",
                        dimensions=(40, 120), timeout=30)
    try:
        run.expect(r"server: (ground://127\.0\.0\.1:\d+)")
        url = run.match.group(1)
        run.expect(r"web: (http://127\.0\.0\.1:\d+/)")
        with urllib.request.urlopen(run.match.group(1), timeout=10) as page:
            assert b"web console" in page.read()
        run.expect("AUTHORITY")  # the console is up, with command authority
        # and has housekeeping, so a joiner's snapshot starts with it (the first boot writes its
        # records to flash before the first report: a second of sector erases on the board)
        run.expect("STATE SAFE")
        joined = subprocess.run([sys.executable, "-m", "ground", "monitor", url, "--count", "1", "--duration", "10"],
                                cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert joined.returncode == 0 and " HK sid=1 " in joined.stdout
        run.sendcontrol("q")
        run.expect(pexpect.EOF, timeout=30)
    finally:
        run.close(force=True)
    assert run.exitstatus == 0
    archive = open_existing(str(tmp_path / "ground-archive.sqlite"))  # the server's, where make run was started
    rows = archive.rows()
    archive.close()
    assert "command authority taken by" in " ".join(r.text for r in rows if r.kind == "AUTHORITY")
