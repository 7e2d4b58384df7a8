"""Procedures flown against the simulated board (the real firmware under the MicroPython unix port).

One board serves the module: every procedure here ends SAFE (its on-abort steps), and the
releases it makes are of slots no other test here needs STOWED (deploy-all fires the
lowest STOWED slot and is stopped mid-burn; the link-loss test releases slot 4).
"""

import os
import socket
import threading

import pytest

from firmware import dictionary as d
from ground import procedure, runner
from ground.__main__ import main
from ground.archive import Archive
from ground.client import Client, default_seq_file
from ground.procedure import AbortOn
from ground.server import Background, Server
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


@pytest.fixture
def client(sim):
    with Client(sim.ports["link"], timeout=TIMEOUT, seq_file=default_seq_file()) as c:
        runner.await_payload(c)
        yield c


def _shipped(name, **values):
    path = os.path.join(PROCEDURES, name)
    return procedure.parse(procedure.read(path), path, values)


def _written(text, **values):
    assert procedure.check(text, "t.proc") == []
    return procedure.parse(text, "t.proc", values)


def _fly(client, proc, answers=(), rest=None, yes=False, sinks=(), archive=None, operator=None):
    """Fly ``proc``; (Outcome, Runner)."""
    r = runner.Runner(proc, client, operator or runner.ScriptedOperator(answers, rest), yes=yes,
                      sinks=sinks, archive=archive)
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
    assert outcome.status == runner.ABORTED and outcome.safe is True
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


class _Proxy:
    """A TCP relay between the ground and the sim's link that can be cut and restored (the port too)."""

    def __init__(self, upstream):
        host, port = upstream.removeprefix("socket://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.port = 0
        self._sockets = []
        self.restore()

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port

    def restore(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        self.port = server.getsockname()[1]
        server.listen(1)
        self._sockets = [server]
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self):
        for s in self._sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, server):
        try:
            ground, _ = server.accept()
        except OSError:
            return
        board = socket.create_connection(self.upstream)
        self._sockets += [ground, board]
        for a, b in ((ground, board), (board, ground)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while data := a.recv(4096):
                b.sendall(data)
        except OSError:
            pass


def test_a_link_lost_mid_fire_is_an_unknown_outcome_never_a_second_burn_and_the_run_makes_safe_once_it_returns(sim):
    proc = _written(SAFE_AGAIN + 'expect HK state == SAFE within 5 s\nconfirm "GO?"\nsend ARM\nconfirm "GO?"\n'
                                 'send FIRE 4 within 2 s\n')
    proxy = _Proxy(sim.ports["link"])
    cut = []

    def cut_as_the_burn_starts_and_restore_once_the_step_failed(entry):
        if _fire_started(entry):
            proxy.cut()
            cut.append(entry)
        elif entry.kind == "FAIL" and cut:
            proxy.restore()

    try:
        with Client(proxy.url, timeout=2.0, retries=2, seq_file=default_seq_file()) as c:
            runner.await_payload(c)
            outcome, r = _fly(c, proc, rest=runner.GO, yes=True,
                              sinks=[cut_as_the_burn_starts_and_restore_once_the_step_failed])
            assert c.await_hk(state="SAFE", timeout=TIMEOUT)
    finally:
        proxy.cut()
    assert (outcome.status, outcome.line, outcome.safe) == (runner.FAILED, 9, True)
    assert "FIRE 4 not completed within 2 s (last report: STARTED): outcome unknown" in outcome.reason
    assert "the link was down for" in outcome.reason
    assert _kinds(r, "LINK")[:2] == ["link DOWN", "link UP"]
    assert len([b for b in sim.do("burns")["burns"] if b["slot"] == 4]) == 1  # executed once, whatever was resent


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


def test_a_recorded_run_replays_line_for_line_with_the_procedure_it_flew(client, tmp_path, capsys):
    db = str(tmp_path / "runs.sqlite")
    archive = Archive(db)
    shown = []
    outcome, r = _fly(client, _shipped("checkout.proc"), archive=archive, sinks=[lambda e: shown.append(str(e))])
    archive.close()
    assert outcome.status == runner.PASSED, outcome
    assert any(line.endswith("PARAM id=ARM_WINDOW value=60 after 0.0 s") for line in shown)
    capsys.readouterr()
    assert main(["proc", "replay", db]) == 0
    assert capsys.readouterr().out.splitlines() == shown
    assert main(["proc", "replay", db, r.run_id, "--source"]) == 0
    assert capsys.readouterr().out == procedure.read(os.path.join(PROCEDURES, "checkout.proc"))
    assert main(["proc", "replay", db, "--list"]) == 0
    listed = capsys.readouterr().out
    assert r.run_id in listed and "checkout.proc" in listed and "PASSED" in listed
    assert main(["proc", "replay", db, "nosuchrun"]) == 2
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


def test_a_procedure_flies_through_the_ground_server_once_it_holds_command_authority(sim, tmp_path, capsys):
    checkout = os.path.join(PROCEDURES, "checkout.proc")
    db = str(tmp_path / "proc.sqlite")
    server_archive = Archive(str(tmp_path / "server.sqlite"))
    try:
        with Background(Server(sim.ports["link"], server_archive, timeout=TIMEOUT, seq_file=default_seq_file())) as b:
            assert main(["proc", "run", checkout, b.url, "--db", db]) == 2
            assert "nobody holds command authority on %s (--take takes it" % b.url in capsys.readouterr().err
            assert main(["proc", "run", checkout, b.url, "--db", db, "--take"]) == 0
            assert "END    PASSED: every step done" in capsys.readouterr().out
    finally:
        server_archive.close()
    assert main(["proc", "replay", db, "--list"]) == 0
    listed = capsys.readouterr().out.split()
    session = listed[listed.index("session") + 1]
    assert main(["replay", db, "--session", session, "--type", "PROCEDURE,TC"]) == 0
    shown = capsys.readouterr().out.splitlines()  # the run's entries and the TCs sent, in one session
    assert any(" TC TIME_SET " in line for line in shown)
    assert shown[-1].endswith("END PASSED: every step done") and " PROCEDURE " in shown[-1]


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
