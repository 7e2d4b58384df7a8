"""The ground against the simulated board (``python -m sim`` running the real firmware)."""

import socket
import time

import pytest

from firmware import dictionary as d
from firmware import framing
from ground.__main__ import main
from ground.archive import Archive
from ground.client import Client, default_seq_file
from ground.codec import decode
from ground.link import DOWN, UP
from sim.link import RX_HELD
from tests.sim.simproc import BOOT_TIMEOUT, Sim

TIMEOUT = 5.0  # s: verification timeout on a local link
PING_FRAME = len(framing.frame(bytes(13)))  # a PING: 6-byte header, 5-byte PUS header, CRC
# PINGs that fill the board's UART buffer with room to spare for what it reads before it freezes
# (the PARAM_SET ahead of them, a few bytes more): 110 ms at 115200, within a sector erase (250 ms)
BURST_PINGS = (RX_HELD + 150) // PING_FRAME
RESEND_S = 2.0  # the client's verification timeout in the overrun test: the board answers the kept PINGs first


def _up(url, timeout=BOOT_TIMEOUT, **kw):
    """A Client whose PING completed: the firmware is running."""
    client = Client(url, timeout=TIMEOUT, seq_file=default_seq_file(), **kw)
    deadline = time.monotonic() + timeout
    while not client.send("PING", timeout=0.5, retries=0, check=False).ok:
        assert time.monotonic() < deadline, "the simulated board did not answer PING"
    return client


pytestmark = pytest.mark.usefixtures("one_ground")


@pytest.fixture(scope="module")
def sim():
    with Sim(app="firmware.app") as s:
        yield s


def test_ping_round_trip_shows_every_stage_and_the_pong(sim):
    with _up(sim.ports["link"]) as c:
        v = c.send("PING")
        assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "COMPLETED"]
        assert c.await_record(lambda r: r.name == "PONG", since=v.mark, timeout=TIMEOUT)


def test_arm_fire_releases_and_replay_of_the_archive_equals_the_live_decode(sim, tmp_path):
    archive = Archive(str(tmp_path / "sim.sqlite"))
    with _up(sim.ports["link"], archive=archive) as c:
        assert c.send("ARM", confirm=True).ok
        v = c.send("FIRE", 2, confirm=True, timeout=10)
        assert v.ok and v.stage("PROGRESS") is not None
        c.await_event("RELEASED", since=v.mark, slot=2, timeout=TIMEOUT)
        c.await_hk(slot2="RELEASED", since=v.mark, timeout=TIMEOUT)
        c.send("DISARM")
        live = [r.to_json() for r in c.records()]
    replayed = [decode(raw, t).to_json() for t, _d, raw in archive.frames("TM")]
    archive.close()
    assert replayed[-len(live):] == live  # the archive starts earlier: the PINGs of _up


def test_fire_while_safe_is_refused_with_the_reason_and_exit_1(sim, capsys):
    _up(sim.ports["link"]).close()
    assert main(["send", sim.ports["link"], "FIRE", "3", "--yes", "--timeout", "5"]) == 1
    assert "NOT_ARMED (controller is not ARMED)" in capsys.readouterr().err


def test_a_repeated_request_id_is_answered_duplicate_not_executed_again(sim):
    with _up(sim.ports["link"]) as c:
        v = c.send("PING")
        c.link.write(v.command.packet)  # the same bytes again, as a retry would send them
        rec = c.await_record(lambda r: r.request_id == v.request_id and r.name.endswith("FAILED"),
                             since=v.mark, timeout=TIMEOUT)
        assert (rec.values["code"], rec.values["data"]) == (d.DUPLICATE, 0)


def _bad_frames(hk):
    return sum(hk.values[k] for k in ("crc_errors", "oversize", "undecodable"))


def test_a_burst_the_frozen_board_cannot_hold_loses_its_tail_and_the_resend_gets_the_command_through(sim):
    with _up(sim.ports["link"]) as c:
        bad = _bad_frames(c.await_hk(timeout=TIMEOUT))
        before = sim.do("state")
        write = c.submit("PARAM_SET", d.P_ARM_WINDOW, 60)  # persisted: the board freezes for a sector erase...
        burst = [c.build("PING") for _ in range(BURST_PINGS)]  # (counts after it: not STALE)
        c.link.write_raw(b"".join(framing.frame(tc.packet) for tc in burst))  # ...while the burst arrives
        v = c.submit("PING", timeout=RESEND_S, retries=1)  # behind it: lost with the burst's tail
        v.wait()
        # what the operator sees: no report for RESEND_S, then the resend goes through
        assert v.ok and v.attempts == 2 and [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "COMPLETED"]
        assert write.wait() and write.ok
        after = sim.do("state")
        assert after["flash"]["stalls"]["count"] > before["flash"]["stalls"]["count"]
        # the bytes lost are the stream's tail (the board read none of it while frozen)
        frames = [framing.frame(tc.packet) for tc in (write.command, *burst, v.command)]
        kept = sum(map(len, frames)) - (after["link"]["overrun"] - before["link"]["overrun"])
        assert len(frames[0]) < kept < sum(map(len, frames[:-1]))  # the burst overflowed the buffer
        ends = [sum(map(len, frames[:i + 1])) for i in range(len(frames) - 1)]
        whole = [tc.request_id for tc, end in zip(burst, ends[1:], strict=True) if end - 1 <= kept]  # delimiter aside
        torn = not any(kept in (end - 1, end) for end in ends)
        completed = [r.request_id for r in c.records(v.mark) if r.name == "COMPLETED"]
        assert [rid for rid in completed if rid in set(whole) | {tc.request_id for tc in burst}] == whole
        hk = c.await_hk(since=c.position(), timeout=TIMEOUT)  # the firmware counted the torn frame
        assert _bad_frames(hk) - bad == torn


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_reconnects_when_the_board_goes_away_and_comes_back():
    port = str(_free_port())
    with Sim("--link-port", port, app="firmware.app") as first:
        c = _up(first.ports["link"])
    try:
        deadline = time.monotonic() + TIMEOUT
        while c.link.state != DOWN:
            assert time.monotonic() < deadline, "link never went DOWN"
            time.sleep(0.05)
        with Sim("--link-port", port, app="firmware.app"):
            deadline = time.monotonic() + BOOT_TIMEOUT
            while not (c.link.state == UP and c.send("PING", timeout=0.5, retries=0, check=False).ok):
                assert time.monotonic() < deadline, "no PING after the board came back"
            assert c.link.reconnects >= 1
    finally:
        c.close()


def test_a_second_link_client_is_closed_at_once_and_the_first_keeps_the_link(sim):
    with _up(sim.ports["link"]) as c:
        host, port = sim.ports["link"].removeprefix("socket://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as second:
            t0 = time.monotonic()
            assert second.recv(4096) == b""  # closed by the sim: the link is taken
            assert time.monotonic() - t0 < 2.0
        assert c.send("PING").ok and c.link.reconnects == 0  # never dropped for the newcomer


def test_a_ground_tool_refused_by_the_far_end_says_why_and_steals_nothing(sim):
    host, port = sim.ports["link"].removeprefix("socket://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as holder:  # not a ground tool: no lock
        time.sleep(0.2)  # the sim has taken it as its client
        with Client(sim.ports["link"], timeout=1, retries=0) as c:
            deadline = time.monotonic() + TIMEOUT
            while c.link.state != DOWN:
                assert time.monotonic() < deadline, "the refused link never went DOWN"
                time.sleep(0.05)
            assert c.link.down_reason == ("the far end closed the connection at once: it serves one client, "
                                          "and another one has it")
            ping = c.build("PING")
            holder.sendall(framing.frame(ping.packet))  # the holder still has the board
            holder.settimeout(TIMEOUT)
            answers, deframer = [], framing.Deframer()
            while ping.request_id not in answers:
                deframer.feed(holder.recv(4096), lambda buf, n: answers.append(decode(bytes(buf[:n])).request_id))


def test_a_fire_nested_byte_for_byte_in_a_sched_insert_is_refused_stale_and_its_slot_never_burns_again():
    # Issue 11 part 2, through ground.client: ARM, FIRE 3 (packet P), ABORT during the burn, 20 PINGs
    # (P again is STALE); then TIME_SET, ARM and a SCHED_INSERT whose nested command is P.
    with Sim("--burn-time", "30", app="firmware.app") as s, _up(s.ports["link"]) as c:
        assert c.send("ARM", confirm=True).ok
        fire = c.submit("FIRE", 3, confirm=True)
        c.await_event("BURN_START", since=fire.mark, slot=3, timeout=TIMEOUT)
        c.send("ABORT")
        assert fire.wait(TIMEOUT) and "ABORTED" in fire.reason
        for _ in range(20):
            c.send("PING")
        mark = c.position()
        c.link.write(fire.command.packet)
        stale = c.await_record(lambda r: r.request_id == fire.request_id and r.name == "ACCEPT_FAILED", since=mark)
        assert stale.values["code"] == d.STALE
        now = c.send("TIME_SET", 25000, 0)
        c.send("ARM", confirm=True)
        v = c.send("SCHED_INSERT", 25000, 2000, fire.command, confirm=True, check=False)
        time.sleep(4)  # past the release time it asked for
        burns = s.do("burns")["burns"]
        assert [b["slot"] for b in burns] == [3], burns
        assert not any(r.request_id == fire.request_id for r in c.records(now.mark) if r.service == 1)
        assert v.status == "FAILED" and v.stage("START_FAILED").code == d.STALE, v
