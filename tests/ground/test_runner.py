"""Procedures flown against the simulated board (the real firmware under the MicroPython unix port),
each on the board's link and through a ground server on it.

One board serves the module: every procedure here ends SAFE (its on-abort steps), and the
releases it makes are of slots no other test here needs STOWED (deploy-all fires the
lowest STOWED slot and is stopped mid-burn; the link-loss test releases slot 4 on the
link, 3 through a server; the two-person test releases 2).
"""

import contextlib
import os
import threading
import time

import pytest

from firmware import dictionary as d
from ground import codec, procedure, protocol, runner
from ground.__main__ import main
from ground.archive import Archive
from ground.client import Client, default_seq_file
from ground.errors import LinkError, UsageError
from ground.procedure import AbortOn
from ground.remote import ServerClient
from ground.server import Background, Server
from tests.ground.relay import Relay
from tests.sim.simproc import Sim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCEDURES = os.path.join(ROOT, "procedures")
TIMEOUT = 5.0  # s: verification timeout on a local link
SAFE_AGAIN = """\
on-abort
    send SAFE
    expect HK state == SAFE within 10 s
end
"""


pytestmark = pytest.mark.usefixtures("one_ground")


@pytest.fixture(scope="module")
def sim():
    with Sim(app="firmware.app") as s:
        yield s


LINK, SERVER = "on the link", "through a server"


@contextlib.contextmanager
def _ground(via, link_url, archive, **server_options):
    """A Client that reaches the payload at ``link_url`` ``via`` its link (archiving its session in
    ``archive``) or through a ground server on it (archiving there), holding command authority."""
    if via == LINK:
        with Client(link_url, timeout=TIMEOUT, seq_file=default_seq_file(), archive=archive) as c:
            runner.await_payload(c)
            yield c
        return
    server = Server(link_url, archive, timeout=TIMEOUT, seq_file=default_seq_file(), **server_options)
    with Background(server) as b, Client(b.url, timeout=TIMEOUT, name="proc") as c:
        c.take()
        runner.await_payload(c)
        yield c


@pytest.fixture(params=[LINK, SERVER])
def client(request, sim, archive):
    with _ground(request.param, sim.ports["link"], archive) as c:
        yield c


def _shipped(name, **values):
    path = os.path.join(PROCEDURES, name)
    return procedure.parse(procedure.read(path), path, values)


def _written(text, **values):
    assert procedure.check(text, "t.proc") == []
    return procedure.parse(text, "t.proc", values)


def _fly(client, proc, answers=(), rest=None, yes=False, sinks=(), operator=None):
    """Fly ``proc``; (Outcome, Runner)."""
    r = runner.Runner(proc, client, operator or runner.ScriptedOperator(answers, rest), yes=yes, sinks=sinks)
    return r.run(), r


def _kinds(r, kind):
    return [e.text for e in r.entries if e.kind == kind]


def _fire_started(entry):
    """The slot of a FIRE whose STARTED report this entry is, else None."""
    if entry.kind == "STAGE" and entry.ref[1].name == "STARTED" and entry.ref[0].command.name == "FIRE":
        return entry.ref[0].command.args[0]
    return None


def _line_of(proc, kind):
    return [s.line for s in proc.steps if isinstance(s, kind)]


def test_a_failing_expectation_stops_at_its_line_says_what_came_and_makes_safe(client):
    proc = _written(SAFE_AGAIN + "send PING\nexpect HK state == ARMED within 1.5 s\nsend PING\n")
    outcome, r = _fly(client, proc)
    assert (outcome.status, outcome.line, outcome.safe) == (runner.FAILED, 6, True)
    assert outcome.reason == "no HK state == ARMED within 1.5 s; last HK state=SAFE"
    assert [e.line for e in r.entries if e.kind == "STEP"] == [5, 6, 2, 3]  # line 7 never ran; on-abort did
    assert _kinds(r, "SENT")[0].startswith("PING ") and _kinds(r, "SENT")[1].startswith("SAFE ")
    assert len(_kinds(r, "SENT")) == 2


def test_rbf_inserted_mid_burn_during_deploy_all_fires_the_abort_on_cuts_the_burn_and_makes_safe(sim, client):
    proc = _shipped("deploy-all.proc", SPACING="0")
    fired = []

    def insert_rbf_as_the_first_burn_starts(entry):
        if _fire_started(entry) and not fired:
            fired.append(_fire_started(entry))
            sim.do("set", input="rbf_removed", value=False)

    try:
        outcome, r = _fly(client, proc, rest=runner.GO, yes=True, sinks=[insert_rbf_as_the_first_burn_starts])
    finally:
        sim.do("set", input="rbf_removed", value=True)
    assert outcome.status == runner.ABORTED and outcome.safe is True, outcome
    assert outcome.line in _line_of(proc, AbortOn)  # the firmware's ARM_LOST, or the next HK: both are watched
    slot = fired[0]
    assert [s for s in _kinds(r, "SENT") if s.startswith("FIRE")] == [s for s in _kinds(r, "SENT")
                                                                     if s.startswith("FIRE %d " % slot)]
    burns = [b for b in sim.do("burns")["burns"] if b["slot"] == slot]
    assert burns[-1]["end"] is not None and burns[-1]["end"] - burns[-1]["start"] < 1.0  # the sim needs 1 s
    hk = client.await_hk(timeout=TIMEOUT)
    assert (hk.values["state"], hk.values["slot%d" % slot]) == (d.SAFE, d.STOWED)
    assert any("COMPLETION_FAILED ABORTED" in s for s in _kinds(r, "STAGE"))  # the FIRE's own end, followed


def test_a_command_failed_by_an_inhibit_dropping_stops_the_run_aborted_by_the_abort_on_that_explains_it(fw):
    """The payload ends the command ABORTED, then reports ARM_LOST, in one loop: the ground may
    see the failure before the event; the run is judged on both."""
    fw.silent.add("FIRE")
    proc = _written('abort-on event ARM_LOST\nconfirm "GO?"\nsend FIRE 2\n')

    def rbf_in_as_the_fire_starts(entry):
        if _fire_started(entry):
            fw.send_tm(1, 8, ">IHH", entry.ref[0].request_id, d.ABORTED, d.RBF_INSERTED)
            threading.Timer(0.3, fw.send_event, (d.EV_ARM_LOST, d.RBF_INSERTED)).start()  # later than a POLL
            threading.Timer(0.6, fw.send_hk).start()

    with Client(fw.url, timeout=TIMEOUT) as c:
        outcome, r = _fly(c, proc, rest=runner.GO, yes=True, sinks=[rbf_in_as_the_fire_starts])
    assert (outcome.status, outcome.line) == (runner.ABORTED, 1)
    assert outcome.reason == "abort-on event ARM_LOST: EVENT_MEDIUM ARM_LOST reason=RBF_INSERTED"
    assert "COMPLETION_FAILED ABORTED" in _kinds(r, "STAGE")[-1]


@pytest.mark.parametrize("via, slot", [(LINK, 4), (SERVER, 3)])
def test_a_link_lost_mid_fire_is_an_unknown_outcome_never_a_second_burn_and_the_run_makes_safe_once_it_returns(
        sim, archive, via, slot):
    proc = _written(SAFE_AGAIN + 'expect HK state == SAFE within 5 s\nconfirm "GO?"\nsend ARM\nconfirm "GO?"\n'
                                 'send FIRE %d within 2 s\n' % slot)
    relay = Relay(sim.ports["link"])
    cut = []

    def cut_as_the_burn_starts_and_restore_once_the_step_failed(entry):
        if _fire_started(entry):
            relay.cut()
            cut.append(entry)
        elif entry.kind == "FAIL" and cut:
            relay.restore()

    try:
        with _ground(via, relay.url, archive) as c:
            outcome, r = _fly(c, proc, rest=runner.GO, yes=True,
                              sinks=[cut_as_the_burn_starts_and_restore_once_the_step_failed])
            assert c.await_hk(state="SAFE", timeout=TIMEOUT)
    finally:
        relay.close()
    assert (outcome.status, outcome.line, outcome.safe) == (runner.FAILED, 9, True)
    assert "FIRE %d not completed within 2 s (last report: STARTED): outcome unknown" % slot in outcome.reason
    assert "the link was down for" in outcome.reason
    assert _kinds(r, "LINK")[:2] == ["link DOWN", "link UP"]
    assert len([b for b in sim.do("burns")["burns"] if b["slot"] == slot]) == 1  # once, whatever was resent


def test_an_operator_saying_no_go_stops_before_arming_and_makes_safe(client):
    proc = _shipped("deploy-one.proc", SLOT="1")
    operator = runner.ScriptedOperator(["NO-GO"])
    outcome, r = _fly(client, proc, operator=operator)
    confirm = min(s.line for s in proc.steps if isinstance(s, procedure.Confirm))
    assert (outcome.status, outcome.line, outcome.safe) == (runner.NO_GO, confirm, True)
    assert outcome.reason == "the operator answered 'NO-GO'"
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["PING", "SAFE"]
    assert len(operator.asked) == 1


def test_a_hazardous_send_asks_for_its_typed_answer_unless_yes_was_given_at_launch(client):
    proc = _written('confirm "GO to arm?"\nsend ARM\nsend DISARM\n')
    outcome, r = _fly(client, proc, answers=["GO", "FIRE"])
    assert (outcome.status, outcome.line) == (runner.NO_GO, 2)
    assert outcome.reason == "ARM not sent: 'FIRE' does not confirm it"
    assert _kinds(r, "SENT") == []
    operator = runner.ScriptedOperator(["go", " arm "])
    outcome, r = _fly(client, proc, operator=operator)
    assert outcome.status == runner.PASSED
    assert operator.asked[1].text.startswith("HAZARDOUS ARM: switch the arm-enable line on") \
        and operator.asked[1].expected == "ARM"
    assert "typed ' arm ': confirmed" in _kinds(r, "ANSWER")
    operator = runner.ScriptedOperator(["GO"])
    outcome, r = _fly(client, proc, operator=operator, yes=True)
    assert outcome.status == runner.PASSED and len(operator.asked) == 1  # the go/no-go still asks
    assert "hazardous commands: confirmed by --yes given at launch" in _kinds(r, "PROC")
    assert any(a.endswith("confirmed by --yes given at launch") for a in _kinds(r, "ANSWER"))


def test_an_answer_typed_the_moment_its_question_shows_answers_it(fw):
    proc = _written('confirm "First?"\nconfirm "Second?"\n')
    read, write = os.pipe()
    keyboard = os.fdopen(write, "w", buffering=1)

    def type_go_as_each_question_shows(entry):
        if entry.kind == "ASK":
            keyboard.write("GO\n")
            time.sleep(0.2)  # the screen takes its time; the terminal is read meanwhile

    with Client(fw.url, timeout=TIMEOUT) as c, os.fdopen(read) as terminal:
        r = runner.Runner(proc, c, runner.TerminalOperator(terminal), sinks=[type_go_as_each_question_shows])
        unanswered = threading.Timer(5.0, r.stop)
        unanswered.start()
        outcome = r.run()
        unanswered.cancel()
        keyboard.close()
    assert outcome.status == runner.PASSED, outcome
    assert _kinds(r, "ANSWER") == ["GO", "GO"]


class _ThinkingOperator:
    """Withdraws the lander's permit while the question is open, and never answers."""

    def __init__(self, sim):
        self.sim = sim
        self.asked = []

    def ask(self, question):
        self.asked.append(question)
        self.sim.do("set", input="permit", value=False)


def test_an_inhibit_that_drops_while_the_operator_thinks_aborts_and_withdraws_the_question(sim, client):
    proc = _written(SAFE_AGAIN + 'abort-on HK inputs lacks PERMIT\nconfirm "GO to arm?"\nsend ARM\n')
    operator = _ThinkingOperator(sim)
    try:
        outcome, r = _fly(client, proc, operator=operator)
    finally:
        sim.do("set", input="permit", value=True)
    assert (outcome.status, outcome.line, outcome.safe) == (runner.ABORTED, 5, True)
    assert outcome.reason == "abort-on HK inputs lacks PERMIT: HK inputs=RBF_REMOVED"
    assert operator.asked[0].done.is_set() and operator.asked[0].reply is None


def test_ctrl_c_mid_procedure_stops_it_and_makes_safe(client):
    proc = _written(SAFE_AGAIN + "send PING\nwait 30 s\nsend PING\n")
    pressed = []

    def ctrl_c_as_the_wait_starts(entry):
        if entry.kind == "STEP" and entry.line == 6 and not pressed:
            pressed.append(entry)
            raise KeyboardInterrupt

    outcome, r = _fly(client, proc, sinks=[ctrl_c_as_the_wait_starts])
    assert (outcome.status, outcome.line, outcome.safe) == (runner.INTERRUPTED, 6, True)
    assert outcome.reason == "interrupted by the operator (Ctrl-C)"
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["PING", "SAFE"]


def test_stop_from_another_thread_ends_the_waiting_step_and_makes_safe(client):
    proc = _written(SAFE_AGAIN + "send PING\nwait 30 s\nsend PING\n")
    r = runner.Runner(proc, client, runner.ScriptedOperator())
    r.sinks.append(lambda e: e.kind == "STEP" and e.line == 6 and threading.Timer(0.2, r.stop).start())
    outcome = r.run()
    assert (outcome.status, outcome.line, outcome.safe) == (runner.INTERRUPTED, 6, True)
    assert outcome.reason == "stopped by the operator"
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["PING", "SAFE"]


def test_a_recorded_run_replays_line_for_line_from_the_archive_session_that_holds_its_frames(client, archive, capsys):
    shown = []
    outcome, r = _fly(client, _shipped("checkout.proc"), sinks=[lambda e: shown.append(str(e))])
    assert outcome.status == runner.PASSED, outcome
    assert any(line.endswith("PARAM id=ARM_WINDOW value=60 after 0.0 s") for line in shown)
    archive.flush()
    through_server = protocol.is_server_url(client.link.url)
    for source in [archive.path] + ([client.link.url] if through_server else []):  # the file, and the server
        capsys.readouterr()
        assert main(["proc", "replay", source]) == 0
        assert capsys.readouterr().out.splitlines() == shown
        assert main(["proc", "replay", source, r.run_id, "--source"]) == 0
        assert capsys.readouterr().out == procedure.read(os.path.join(PROCEDURES, "checkout.proc"))
        assert main(["proc", "replay", source, "--list"]) == 0
        listed = capsys.readouterr().out.split()
        assert r.run_id in listed and "checkout.proc" in listed and "PASSED:" in listed
    session = listed[listed.index("session") + 1]
    assert session == str(archive.session)  # the server's session, or the client's own on a link
    assert main(["replay", archive.path, "--session", session, "--type", "PROCEDURE,TC"]) == 0
    rows = capsys.readouterr().out.splitlines()
    rows = rows[next(i for i, row in enumerate(rows) if " PROCEDURE " in row):]  # the run's entries and TCs
    assert len([row for row in rows if " TC " in row]) == len(_kinds(r, "SENT"))
    assert len([row for row in rows if " PROCEDURE %s " % r.run_id in row]) == len(r.entries)
    assert rows[-1].endswith("END PASSED: every step done")
    assert main(["proc", "replay", archive.path, "nosuchrun"]) == 2
    assert "no run nosuchrun" in capsys.readouterr().err


def test_dry_run_rehearses_on_a_fresh_simulated_board_and_archives_the_run(tmp_path, capsys):
    db = str(tmp_path / "rehearsal.sqlite")
    assert main(["proc", "run", os.path.join(PROCEDURES, "checkout.proc"), "--dry-run", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "(dry run: a fresh simulated board)" in out and "END    PASSED: every step done" in out
    archive = Archive(db)
    assert [r["procedure"] for r in runner.runs(archive)] == ["checkout.proc"]
    assert any(direction == "TC" for _t, direction, _raw in archive.frames())  # the frames of the run too
    archive.close()


def test_proc_run_through_a_server_is_refused_without_command_authority_and_flies_with_take(sim, archive, capsys):
    checkout = os.path.join(PROCEDURES, "checkout.proc")
    with Background(Server(sim.ports["link"], archive, timeout=TIMEOUT, seq_file=default_seq_file())) as b:
        assert main(["proc", "run", checkout, b.url]) == 2
        refused = "does not hold command authority on %s (nobody holds it) (--take takes" % b.url
        assert refused in capsys.readouterr().err
        assert main(["proc", "run", checkout, b.url, "--take", "--db", "mine.sqlite"]) == 2
        assert "through a server the run is recorded in the server's archive" in capsys.readouterr().err
        assert main(["proc", "run", checkout, b.url, "--take"]) == 0
        out = capsys.readouterr().out
        assert "END    PASSED: every step done" in out and "(a ground server on %s)" % sim.ports["link"] in out
        assert main(["proc", "replay", b.url, "--list"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 1  # the refused runs recorded nothing


def test_a_server_that_keeps_no_archive_refuses_the_run_before_its_first_step(sim):
    server = Server(sim.ports["link"], None, timeout=TIMEOUT, seq_file=default_seq_file())
    with Background(server) as b, Client(b.url, timeout=TIMEOUT, name="proc") as c:
        c.take()
        r = runner.Runner(_written("send PING\n"), c, runner.ScriptedOperator())
        with pytest.raises(UsageError, match="this server keeps no archive: nothing would record"):
            r.run()
    assert [e for e in r.entries if e.kind not in ("PROC", "PLAN")] == []


def test_a_run_that_passed_but_whose_end_did_not_reach_the_servers_archive_says_so_and_exits_3(
        sim, archive, tmp_path, capsys, monkeypatch):
    request = ServerClient._request

    def server_unreachable_for_the_end(self, msg):
        if msg["type"] == "log" and any('"kind": "END"' in text for _t, _kind, text in msg["lines"]):
            raise LinkError("not connected to %s" % self.link.url)
        return request(self, msg)

    monkeypatch.setattr(ServerClient, "_request", server_unreachable_for_the_end)
    ping = tmp_path / "ping.proc"
    ping.write_text("send PING\n")
    with Background(Server(sim.ports["link"], archive, timeout=TIMEOUT, seq_file=default_seq_file())) as b:
        assert main(["proc", "run", str(ping), b.url, "--take"]) == 3
    assert capsys.readouterr().err == ("ground: ping.proc PASSED, but 1 entry of the run did not reach the archive of "
                                       "%s: its record is incomplete\n" % b.url)
    assert [r["end"] for r in runner.runs(archive)] == ["(no end recorded)"]


def test_command_authority_taken_over_mid_run_stops_the_procedure_at_once(sim, archive):
    proc = _written(SAFE_AGAIN + "send PING\nwait 30 s\nsend PING\n")
    with _ground(SERVER, sim.ports["link"], archive) as c, Client(c.link.url, name="other") as other:
        started = time.monotonic()
        outcome, r = _fly(c, proc, sinks=[lambda e: e.kind == "STEP" and e.line == 6 and other.take(force=True)])
    assert time.monotonic() - started < 10  # not the 30 s wait
    assert (outcome.status, outcome.line, outcome.safe) == (runner.FAILED, 6, False)
    assert outcome.reason == "command authority lost: #2 other holds it now"
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["PING"]  # the other operator has the payload now
    assert [str(e) for e in runner.replay(archive, r.run_id)[1]] == [str(e) for e in r.entries]


def test_entries_the_server_cannot_be_reached_for_reach_its_archive_once_it_is_back(sim, tmp_path):
    proc = _written(SAFE_AGAIN + "send PING\nwait 30 s\nsend PING\n")
    first, second = Archive(str(tmp_path / "a.sqlite")), Archive(str(tmp_path / "a.sqlite"))
    b = Background(Server(sim.ports["link"], first, timeout=TIMEOUT, seq_file=default_seq_file()))
    port = int(b.url.rsplit(":", 1)[1])
    try:
        with Client(b.url, timeout=TIMEOUT, name="proc") as c:
            c.take()
            outcome, r = _fly(c, proc, sinks=[lambda e: e.kind == "STEP" and e.line == 6 and b.stop()])
            assert outcome.reason == "command authority lost: nobody holds it now" and outcome.safe is False
            assert c.unlogged > 0  # the stop, the on-abort steps and the end, waiting for the server
            b = Background(Server(sim.ports["link"], second, timeout=TIMEOUT, seq_file=default_seq_file()),
                           port=port)
            deadline = time.monotonic() + 10
            while c.link.state != "UP" and time.monotonic() < deadline:
                time.sleep(0.05)
        assert c.unlogged == 0  # close() sent them
    finally:
        b.stop()
        first.close()
    assert [str(e) for e in runner.replay(second, r.run_id)[1]] == [str(e) for e in r.entries]  # both sessions
    second.close()


def test_two_person_rule_holds_a_procedures_hazardous_command_until_a_second_person_approves_it(sim, archive):
    proc = _written('confirm "GO to arm?"\nsend ARM\nexpect event ARMED within 10 s\nsend DISARM\n')
    with _ground(SERVER, sim.ports["link"], archive, two_person=True) as c, Client(c.link.url, name="bob") as bob:
        def bob_approves(entry):
            if entry.kind == "HELD" and "waits" in entry.text:
                threading.Timer(0.5, bob.approve, (int(entry.text.rsplit(" ", 1)[1].rstrip(")")),)).start()

        outcome, r = _fly(c, proc, rest=runner.GO, yes=True, sinks=[bob_approves])
    assert outcome.status == runner.PASSED, outcome
    assert _kinds(r, "HELD")[1] == "approved by #2 bob"
    assert [e.kind for e in r.entries if e.line == 2 and e.kind in ("HELD", "SENT", "OK")] == [
        "HELD", "HELD", "SENT", "OK"]  # sent once approved: its time limit runs from then on


def test_a_procedures_command_nobody_approves_in_time_fails_its_step_unsent_and_the_run_makes_safe(sim, archive):
    proc = _written(SAFE_AGAIN + 'confirm "GO to arm?"\nsend ARM\n')
    with _ground(SERVER, sim.ports["link"], archive, two_person=True, approval_timeout=0.5) as c:
        outcome, r = _fly(c, proc, rest=runner.GO, yes=True)
    assert (outcome.status, outcome.line, outcome.safe) == (runner.FAILED, 6, True)
    assert outcome.reason.endswith("NOT_SENT: NOT approved within 0.5 s: not sent")
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["SAFE"]


def test_a_run_stopped_while_its_command_waits_for_approval_withdraws_it_so_it_is_never_sent(sim, archive):
    proc = _written(SAFE_AGAIN + 'abort-on HK inputs lacks PERMIT\nconfirm "GO to arm?"\nsend ARM\n')
    with _ground(SERVER, sim.ports["link"], archive, two_person=True) as c, Client(c.link.url, name="bob") as bob:
        def permit_withdrawn_while_held(entry):
            if entry.kind == "HELD" and "waits" in entry.text:
                sim.do("set", input="permit", value=False)

        try:
            outcome, r = _fly(c, proc, rest=runner.GO, yes=True, sinks=[permit_withdrawn_while_held])
        finally:
            sim.do("set", input="permit", value=True)
        with pytest.raises(UsageError, match="no command waits for approval number 1"):
            bob.approve(1)
    assert (outcome.status, outcome.line, outcome.safe) == (runner.ABORTED, 5, True)
    assert _kinds(r, "HELD")[1] == "withdrawn: never sent"
    assert [s.split(" [")[0] for s in _kinds(r, "SENT")] == ["SAFE"]
    tcs = [codec.describe_tc(raw) for _t, _d, raw in archive.frames("TC")]
    assert not [tc for tc in tcs if tc.startswith("ARM")]


def test_run_refuses_a_procedure_that_does_not_check_before_any_link_opens(tmp_path, capsys):
    bad = tmp_path / "bad.proc"
    bad.write_text("send ARM\n")
    assert main(["proc", "run", str(bad), "socket://127.0.0.1:1", "--no-record"]) == 2
    assert "bad.proc:1: hazardous ARM without a confirm before it" in capsys.readouterr().err
    checkout = os.path.join(PROCEDURES, "checkout.proc")
    assert main(["proc", "run", checkout, "socket://127.0.0.1:1", "--dry-run", "--no-record"]) == 2
    assert main(["proc", "run", checkout, "--no-record"]) == 2
    assert main(["proc", "run", os.path.join(PROCEDURES, "deploy-one.proc"), "--dry-run", "--no-record"]) == 2
    assert "deploy-one.proc takes param SLOT: give it as SLOT=1..4" in capsys.readouterr().err
