"""The client library: verification stages, retries, hazards, reconnects, junk."""

import asyncio
import os
import socket
import threading
import time

import pytest
import serial

from firmware import dictionary as d
from firmware import framing, packet
from ground import client as client_module
from ground.client import COMPLETED, FAILED, SEQ_BLOCK, TIMEOUT, Client
from ground.errors import CommandFailed, LinkError, UsageError, VerificationTimeout
from ground.link import DOWN, UP, LinkTaken, _socket_of
from tests.ground.conftest import FAST
from tests.ground.fakefw import FakeFirmware, hk_values


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met within %g s" % timeout
        time.sleep(0.02)


def test_send_waits_for_completion_and_records_every_stage(client):
    v = client.send("FIRE", 2, confirm=True)
    assert v.status == COMPLETED and v.ok
    assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "PROGRESS", "COMPLETED"]
    assert v.stage("PROGRESS").step == 1


def test_a_commands_on_finish_runs_before_whoever_waits_for_its_end_wakes(fw):
    woken = []  # whether wait() could have returned already when on_finish ran
    with Client(fw.url, timeout=FAST, on_finish=lambda v: woken.append(v.done.is_set())) as c:
        assert c.send("PING").ok
    assert woken == [False]


def test_a_failed_burn_then_a_release_completes_the_command_with_every_progress_stage(client, fw):
    fw.unconfirmed_burns = 1
    v = client.send("FIRE", 2, confirm=True)
    assert v.status == COMPLETED
    assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "PROGRESS_FAILED", "PROGRESS", "COMPLETED"]
    assert v.stage("PROGRESS_FAILED").code == d.NOT_CONFIRMED


def test_a_command_behind_the_payloads_window_is_sent_again_after_its_newest_count(client, fw):
    fw.newest = (client.build("PING").seq + 100) & 0x3FFF  # the payload saw a later session
    v = client.send("PING")
    assert v.status == COMPLETED and v.resequenced
    assert [s.name for s in v.stages] == ["ACCEPT_FAILED", "ACCEPTED", "STARTED", "COMPLETED"]
    assert v.stages[0].code == d.STALE
    assert v.command.seq == fw.newest and len(fw.executed) == 1


@pytest.mark.parametrize("code", [d.DUPLICATE, d.STALE], ids=["DUPLICATE", "STALE"])
def test_a_sched_insert_refused_at_its_start_for_its_nested_command_fails_at_once_and_is_not_resent(client, fw, code):
    # DUPLICATE or STALE at the start of a SCHED_INSERT are about its nested command, not its own request id
    fw.refuse_start["SCHED_INSERT"] = code
    v = client.send("SCHED_INSERT", 30000, 0, "PING", check=False)
    assert v.status == FAILED and v.reason.startswith("START_FAILED " + d.FAILURE_NAMES.text(code))
    assert len(fw.received) == 1 and not v.resequenced


def test_refused_command_raises_with_the_reason_in_words(client, fw):
    fw.refuse["ARM"] = d.NO_PERMIT
    with pytest.raises(CommandFailed, match="NO_PERMIT .the lander does not permit deployment.") as e:
        client.send("ARM", confirm=True)
    assert e.value.verification.status == FAILED


def test_hazardous_command_is_not_sent_without_confirmation(client, fw):
    with pytest.raises(UsageError, match="hazardous"):
        client.send("FIRE", 1)
    with pytest.raises(UsageError, match="hazardous"):
        client.send("SCHED_INSERT", 30000, 0, "FIRE", 1)  # a scheduled FIRE is a FIRE
    time.sleep(0.1)
    assert fw.received == []


def test_retry_after_lost_uplink_reuses_the_request_id_and_the_verdict_says_it_was_resent(client, fw):
    fw.drop = 1
    v = client.send("PING")
    assert v.ok and v.attempts == 2 and v.reason == "sent 2 times (resent after %g s without a report)" % FAST
    assert fw.received == [v.request_id, v.request_id]


def test_a_resend_is_not_swallowed_by_a_torn_frame_waiting_in_the_payloads_deframer(client, fw):
    fw.drop = 1  # the first attempt is lost...
    v = client.submit("PING")
    client.link.write_raw(b"\x05\x01\x02\x03")  # ...then a frame whose end is lost: its head waits there
    v.wait()
    assert v.ok and v.attempts == 2
    assert fw.received == [v.request_id, v.request_id]


def test_retry_after_lost_reports_is_answered_duplicate_and_counts_as_already_executed(client, fw):
    fw.lose_replies = 1
    v = client.send("FIRE", 3, confirm=True)
    assert v.ok and v.already_executed and "already executed" in v.reason
    assert fw.received == [v.request_id, v.request_id]
    assert list(fw.executed.values()).count(0) == 1  # executed once


def test_retry_of_a_failed_command_reports_the_recorded_failure(client, fw):
    fw.refuse["DISARM"] = d.BUSY
    fw.lose_replies = 1
    v = client.send("DISARM", check=False)
    assert v.status == FAILED and "BUSY" in v.reason and "already executed" in v.reason


def test_a_duplicate_alone_on_a_first_attempt_leaves_the_outcome_unknown_and_names_both_causes(fw, tmp_path):
    seq_file = tmp_path / "seq"
    seq_file.write_text("100\n")
    with Client(fw.url, timeout=FAST, seq_file=str(seq_file)) as c:
        fw.executed[c.build("PING").request_id + 1] = 0  # an earlier session used sequence count 101
        v = c.send("PING", check=False)
    assert v.status == TIMEOUT and v.attempts == 1  # a resend would only be answered the same
    assert "outcome unknown" in v.reason and "link repeated it" in v.reason and "earlier command" in v.reason


def test_a_link_repeat_answered_duplicate_executing_waits_for_the_real_completion(client, fw):
    fw.repeat = True
    fw.slow["FIRE"] = 0.3
    v = client.send("FIRE", 1, confirm=True)
    assert v.status == COMPLETED and not v.already_executed and v.attempts == 1
    assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "ACCEPT_FAILED", "COMPLETED"]
    assert (v.stages[2].code, v.stages[2].data) == (d.DUPLICATE, d.EXECUTING)


def test_a_link_repeat_answered_duplicate_after_the_command_failed_reports_that_failure(client, fw):
    fw.repeat = True
    fw.refuse["ARM"] = d.NO_PERMIT
    v = client.send("ARM", confirm=True, check=False)
    assert v.status == FAILED and "NO_PERMIT" in v.reason and "NOT executed" not in v.reason


def test_a_lost_completion_is_recovered_by_a_resend_answered_with_the_recorded_outcome(client, fw):
    fw.lose_stage[7] = 1  # the COMPLETED report is lost on the way down
    v = client.send("PING")
    assert v.status == COMPLETED and v.already_executed and v.attempts == 2
    assert len(fw.received) == 2 and len(fw.executed) == 1


def test_a_resend_meeting_the_command_still_running_keeps_waiting_for_its_completion(client, fw):
    fw.slow["FIRE"] = 2.5 * FAST  # no report for longer than the timeout: the client asks again
    v = client.send("FIRE", 2, confirm=True)
    assert v.status == COMPLETED and not v.already_executed and v.attempts == 2
    assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED", "ACCEPT_FAILED", "COMPLETED"]
    assert v.stages[2].data == d.EXECUTING


def test_silence_after_a_stage_times_out_with_outcome_unknown(client, fw):
    fw.silent.add("SAFE")
    with pytest.raises(VerificationTimeout, match="after STARTED: outcome unknown") as e:
        client.send("SAFE", timeout=0.3)
    assert e.value.verification.status == TIMEOUT


def test_no_answer_at_all_is_retried_then_times_out(client, fw):
    fw.drop = 5
    v = client.send("PING", timeout=0.2, retries=2, check=False)
    assert v.status == TIMEOUT and v.attempts == 3
    assert len(set(fw.received)) == 1 and len(fw.received) == 3


def test_a_new_session_goes_on_past_every_sequence_count_the_last_one_reserved(fw, tmp_path):
    seq_file = tmp_path / "seq"
    with Client(fw.url, seq_file=str(seq_file)) as c:
        first = c.send("PING").request_id
        assert c.send("PING").request_id == first + 1
    with Client(fw.url, seq_file=str(seq_file)) as c:
        second = c.send("PING").request_id
    assert second == first + SEQ_BLOCK


def test_the_sequence_file_is_written_once_a_block_and_always_holds_a_count_past_those_handed_out(
        fw, tmp_path, monkeypatch):
    seq_file = tmp_path / "seq"
    seq_file.write_text("%d\n" % (0x4000 - SEQ_BLOCK - 3))  # the blocks wrap around the 14-bit count
    writes, store = [], client_module._store_seq
    monkeypatch.setattr(client_module, "_store_seq", lambda path, seq: writes.append(seq) or store(path, seq))
    with Client(fw.url, seq_file=str(seq_file)) as c:
        for _ in range(2 * SEQ_BLOCK + 1):
            seq = c.build("PING").request_id & 0x3FFF
            ahead = (int(seq_file.read_text()) - seq) & 0x3FFF
            assert 1 <= ahead <= SEQ_BLOCK  # a process dying now leaves a file past this count
    assert len(writes) == 3


def test_missing_port_raises_link_error():
    with pytest.raises(LinkError, match="cannot open /dev/nonexistent-port"):
        Client("/dev/nonexistent-port")


def test_reconnects_after_the_port_disappears_and_returns(client, fw):
    client.send("PING")
    fw.stop()
    _wait_for(lambda: client.link.state == DOWN)
    with pytest.raises(LinkError, match="PING not sent: link to socket://.* is down .1 attempt."):
        client.send("PING", timeout=0.2, retries=0)
    fw.start()
    _wait_for(lambda: client.link.state == UP)
    assert client.send("PING").ok
    assert client.link.reconnects == 1


@pytest.fixture(params=["reader thread", "event loop"])
def on_reader(request):
    """Run a call where a Link's reader is: any thread for a Link reading on its own thread, else
    the event loop it reads on (it is opened and closed there, as the ground server does)."""
    if request.param == "reader thread":
        yield lambda fn: fn()
        return
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    async def call(fn):
        return fn()

    on_loop = lambda fn: asyncio.run_coroutine_threadsafe(call(fn), loop).result(5)  # noqa: E731
    on_loop.loop = loop
    yield on_loop
    loop.call_soon_threadsafe(loop.stop)
    runner.join(2)
    loop.close()


def test_a_failed_write_drops_the_link_closes_its_port_and_reconnects(fw, on_reader):
    """A port whose writes fail while reads still work (here: our socket shut for writing) is
    lost as if a read had failed: DOWN at once, closed (not left open beside the next), reopened."""
    states = []
    c = on_reader(lambda: Client(fw.url, timeout=FAST, retries=1, on_state=states.append,
                                 loop=getattr(on_reader, "loop", None)))
    try:
        old = c.link._port
        _socket_of(old, fw.url).shutdown(socket.SHUT_WR)
        with pytest.raises(LinkError, match="PING not sent: link to socket://.* dropped while sending"):
            c.send("PING", retries=0)
        _wait_for(lambda: c.link.state == UP and c.link.reconnects == 1)
        assert DOWN in states and not old.is_open
        assert c.send("PING").ok
    finally:
        on_reader(c.close)


def test_the_fake_firmware_stopped_just_as_it_accepts_still_drops_the_link(monkeypatch):
    """The race behind a flaky reconnect test: stop() ran between accept() and the fake noting
    the connection, which then stayed open with the ground UP."""
    accept = socket.socket.accept

    def late_accept(sock):
        conn = accept(sock)
        time.sleep(0.3)  # the accepting thread loses the CPU here
        return conn

    monkeypatch.setattr(socket.socket, "accept", late_accept)
    fw = FakeFirmware()
    with Client(fw.url, timeout=FAST, retries=1) as c:
        _wait_for(lambda: c.link.state == UP)
        fw.stop()
        _wait_for(lambda: c.link.state == DOWN)


def test_command_sent_while_down_goes_out_on_retry_after_reconnect(client, fw):
    fw.stop()
    _wait_for(lambda: client.link.state == DOWN)
    v = client.submit("PING", timeout=0.4, retries=5)
    fw.start()
    assert v.wait(5) and v.ok


def test_garbage_on_the_link_is_counted_and_telemetry_still_decodes(client, fw):
    fw.send_raw(b"\x00\x01\x02\x03\xff\xfe\x00" + bytes(range(1, 200)) + b"\x00" + b"\x05" * 600 + b"\x00")
    fw.send_hk(state=d.ARMED)
    hk = client.await_hk(state="ARMED", timeout=2)
    assert hk.values["state"] == d.ARMED
    c = client.link.counters()
    assert c["crc_errors"] + c["undecodable"] >= 2 and c["oversize"] == 1


def test_sequence_count_gaps_are_detected(client, fw):
    fw.send_hk()
    fw._writer.seq += 3  # three packets lost on the downlink
    fw.send_hk()
    _wait_for(lambda: client.link.rx_packets == 2)
    assert client.link.tm_gaps == 1 and client.link.tm_lost == 3


def test_await_event_matches_names_and_field_values(client, fw):
    v = client.send("FIRE", 4, confirm=True)
    ev = client.await_event("RELEASED", since=v.mark, slot=4, timeout=1)
    assert ev.values == {"slot": 4, "attempt": 1}
    with pytest.raises(VerificationTimeout, match="no EVENT RELEASED with slot=1 within 0.1 s"):
        client.await_event("RELEASED", since=v.mark, slot=1, timeout=0.1)


def test_next_event_returns_each_event_once_in_order(client, fw):
    fw.send_event(d.EV_ARMED, 60)
    fw.send_event(d.EV_DISARMED, 0)
    assert client.next_event(timeout=1).event == "ARMED"
    assert client.next_event(timeout=1).event == "DISARMED"
    with pytest.raises(VerificationTimeout):
        client.next_event(timeout=0.1)


def test_latest_hk_follows_the_last_report(client, fw):
    fw.send_hk(slot2=d.RELEASED)
    client.await_hk(slot2="RELEASED", timeout=1)
    assert client.latest_hk.values["slot2"] == d.RELEASED


# --- Hostile telemetry ---------------------------------------------------------------------------


def test_a_completed_from_another_apid_never_completes_a_command(client, fw):
    fw.silent.add("PING")  # accepted and started, then the payload says nothing more
    v = client.submit("PING", timeout=0.5, retries=0)
    _wait_for(lambda: len(v.stages) == 2)
    fw.send_foreign(0x123, 1, 7, ">I", v.request_id)  # COMPLETED, carrying the PING's request id
    assert v.wait(3) and v.status == TIMEOUT
    assert [s.name for s in v.stages] == ["ACCEPTED", "STARTED"]
    assert [r.name for r in client.records(v.mark)][-1] == "FOREIGN"
    assert client.counters()["foreign"] == 1


def test_a_foreign_housekeeping_report_never_becomes_the_current_state(client, fw):
    fw.send_hk(state=d.SAFE)
    client.await_hk(timeout=2, since=0)
    mark = client.position()  # before it is sent: it may arrive before the await begins
    fw.send_foreign(0x7FF, 3, 25, d.fmt(d.HK_FIELDS), *hk_values(state=d.ARMED))
    foreign = client.await_record(lambda r: r.foreign, timeout=2, since=mark)
    assert foreign.values == {} and client.latest_hk.values["state"] == d.SAFE


def test_repeated_and_backward_sequence_counts_are_not_counted_as_lost(client, fw):
    for _ in range(10):  # ten repeats of one count
        fw._writer.seq = 100
        fw.send_hk()
    for back in range(10):  # ten late packets, each behind the stream, which goes on in order
        fw._writer.seq = 50 + back
        fw.send_hk()
        fw._writer.seq = 101 + back
        fw.send_hk()
    _wait_for(lambda: client.link.rx_packets == 30)
    c = client.counters()
    assert (c["tm_repeated"], c["tm_back"], c["tm_gaps"], c["tm_lost"]) == (9, 10, 0, 0)


def test_a_count_that_restarts_after_a_reset_is_followed_not_counted_as_lost(client, fw):
    fw._writer.seq = 5000
    fw.send_hk()
    fw.send_hk()
    fw._writer.seq = 0  # the payload reset: its count starts again
    for _ in range(5):
        fw.send_hk()
    _wait_for(lambda: client.link.rx_packets == 7)
    c = client.counters()
    assert (c["tm_back"], c["tm_gaps"], c["tm_lost"]) == (1, 0, 0)


def test_impossible_times_and_malformed_reports_are_counted(client, fw):
    fw.send_tm(17, 2, ms=0xFFFFFFFF)
    fw.send_raw(framing.frame(_event_with_one_byte_id(fw)))
    _wait_for(lambda: client.link.rx_packets == 2)
    _wait_for(lambda: client.counters()["malformed"] == 1)
    assert client.counters()["bad_time"] == 1


def _event_with_one_byte_id(fw):
    w = fw._writer
    w.buf[packet.TM_HEADER] = 0x07
    return bytes(w.buf[:w.finish(5, 1, 1, 0, 1000)])


# --- One tool per link ---------------------------------------------------------------------------


def test_a_second_client_on_the_same_link_is_refused_at_once_naming_the_first(client, fw, monkeypatch):
    opened = []
    monkeypatch.setattr(serial, "serial_for_url", lambda url, **kw: opened.append(url))
    t0 = time.monotonic()
    taken = r"socket://127.0.0.1:\d+ is taken by pid %d \(.+\): one tool per link" % os.getpid()
    with pytest.raises(LinkTaken, match=taken):
        Client(fw.url)
    assert time.monotonic() - t0 < 3.0  # at once: no retry (a reconnect backs off up to 2 s), whatever the load
    assert opened == []  # it never even opened the port


def test_the_link_is_free_again_once_its_client_closes(client, fw):
    client.close()
    with Client(fw.url) as again:
        assert again.link.state == UP


@pytest.mark.parametrize("url", ["socket://127.0.0.1", "socket://127.0.0.1:99999", "socket://127.0.0.1:abc",
                                 "socket://:5555"])
def test_a_malformed_socket_url_is_a_usage_error_in_words(url):
    with pytest.raises(UsageError, match="bad link URL .*: expected socket://HOST:PORT, PORT from 1 to 65535"):
        Client(url)


def test_a_command_leaves_from_the_thread_that_submits_it_before_submit_returns(client):
    writers = []
    write = client.link.write
    client.link.write = lambda raw, **kw: (writers.append(threading.current_thread()), write(raw, **kw))
    v = client.submit("PING")
    assert writers == [threading.current_thread()] and v.attempts == 1  # no hand-off to another thread first
    assert v.wait(5) and v.ok
