"""The console's procedure panel (F3), driven with Textual's pilot against the simulated board
(the real firmware under the MicroPython unix port): a procedure chosen, flown step by step,
its questions answered in the panel, stopped with F4.

One board serves the module; each run ends SAFE (its on-abort steps), and each release is of
a slot no other test here needs STOWED.
"""

import asyncio
import contextlib
import functools
import queue
import time

import pytest
from textual.widgets import DataTable, Input, OptionList, RichLog

from firmware import dictionary as d
from ground import procedure, runner
from ground.archive import Archive
from ground.client import Client
from ground.console import Console, open_client
from ground.server import Background, Server
from tests.sim.simproc import Sim

SIZE = (150, 45)
TIMEOUT = 5.0  # s: verification timeout on a local link
RUN_S = 90.0  # s a whole procedure may take on a loaded machine

pytestmark = pytest.mark.usefixtures("one_ground")


@pytest.fixture(scope="module")
def sim():
    with Sim(app="firmware.app") as s:
        yield s


@contextlib.contextmanager
def _console(url):
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=TIMEOUT) as client:
        yield Console(client, inbox)


@pytest.fixture
def console(sim):
    with _console(sim.ports["link"]) as app:
        runner.await_payload(app.client)
        yield app


def pilot_test(test):
    """Run an async pilot test in its own event loop (no pytest-asyncio in the pinned set)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


async def _until(pilot, predicate, what, timeout=RUN_S):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        await pilot.pause(0.05)


async def _type(pilot, text):
    pilot.app.screen.query_one("#proc-input", Input).value = text
    await pilot.press("enter")
    await pilot.pause(0.2)


def _status(app):
    return str(app.procedures.query_one("#proc-status").render())


def _hint(app):
    return str(app.procedures.query_one("#proc-hint").render())


def _verdicts(app):
    """{line: verdict} of every step of the plan."""
    table = app.procedures.query_one("#proc-steps", DataTable)
    return {row[0]: str(row[1]) for row in (table.get_row_at(i) for i in range(table.row_count)) if row[0] != ""}


def _ended(app):
    return "RUNNING" not in _status(app) and app.procedures.runner is not None and not app.procedures.flying()


async def _asked(pilot):
    """The question the panel shows, once it shows one."""
    panel = pilot.app.procedures
    await _until(pilot, lambda: panel.question is not None or _ended(pilot.app), "a question")
    assert panel.question is not None, _status(pilot.app)
    await pilot.pause(0.2)  # drawn
    return panel.question


async def _answer_every_question(pilot, answers):
    """Answer the questions asked in turn, each as the hint line says; every answer must be asked for."""
    for answer in answers:
        q = await _asked(pilot)
        shown = _hint(pilot.app)
        assert q.text in shown
        typed = q.expected if answer is None else answer
        if q.expected is not None:
            assert "Type %s to send it" % q.expected in shown  # what to type is on the screen
        await _type(pilot, typed)


@pilot_test
async def test_a_shipped_procedure_chosen_from_the_list_is_flown_and_every_step_shows_ok(console):
    async with console.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        listed = pilot.app.screen.query_one("#proc-list", OptionList)
        assert [listed.get_option_at_index(i).id for i in range(listed.option_count)] == procedure.shipped()
        assert "deploy-one.proc SLOT=1..4" in [str(listed.get_option_at_index(i).prompt)
                                              for i in range(listed.option_count)]
        listed.focus()
        listed.highlighted = procedure.shipped().index("checkout.proc")
        await pilot.press("enter")
        assert pilot.app.screen.query_one("#proc-input", Input).value == "checkout.proc "
        await pilot.press("enter")
        await _until(pilot, lambda: _ended(console), "the checkout's end")
        assert "checkout.proc PASSED" in _status(console)
        verdicts = _verdicts(console)
        steps = [s.line for s in console.procedures.runner.proc.steps]
        assert steps and all(verdicts[line].startswith("OK ") for line in steps), verdicts
        log = " ".join(line.text for line in console.procedures.query_one("#proc-log", RichLog).lines)
        shown = " ".join(str(e) for e in console.procedures.runner.entries)
        assert log.split() == shown.split()  # every entry as proc run prints it (wrapped to the pane)


@pilot_test
async def test_deploy_one_answered_in_the_panel_with_the_typed_confirmations_releases_the_slot(console):
    async with console.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await _type(pilot, "deploy-one SLOT=2")
        await _answer_every_question(pilot, ["GO", None, "GO", None])  # None: the answer the hint asks for
        await _until(pilot, lambda: _ended(console), "the run's end")
        assert "deploy-one.proc PASSED" in _status(console)
        assert console.client.latest_hk.values["slot2"] == d.RELEASED
        assert "typed '2': confirmed" in [e.text for e in console.procedures.runner.entries if e.kind == "ANSWER"]


@pilot_test
async def test_a_hazardous_answer_mistyped_is_no_go_and_the_on_abort_steps_make_safe(console):
    async with console.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await _type(pilot, "deploy-one SLOT=3")
        await _answer_every_question(pilot, ["GO", "arm it"])  # ARM asks for ARM typed
        await _until(pilot, lambda: _ended(console), "the run's end")
        status = _status(console)
        assert "deploy-one.proc NO-GO" in status and "on-abort completed" in status
        no_go = next(e for e in console.procedures.runner.entries if e.kind == "NO-GO")
        assert _verdicts(console)[no_go.line].startswith("NO-GO ")  # on the ARM's line
        assert not [e for e in console.procedures.runner.entries if e.kind == "SENT" and e.text.startswith("ARM")]


@pilot_test
async def test_ctrl_q_does_not_quit_while_a_procedure_flies_and_f4_stops_it_making_safe(console):
    async with console.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await _type(pilot, "deploy-one SLOT=4")
        await _asked(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause(0.3)
        assert console.is_running and console.procedures.flying()
        await pilot.press("f4")
        await _until(pilot, lambda: _ended(console), "the run's end")
        status = _status(console)
        assert "INTERRUPTED" in status and "stopped by the operator" in status and "on-abort completed" in status
        assert not [e for e in console.procedures.runner.entries if e.kind == "SENT" and e.text.startswith("ARM")]
        await pilot.press("ctrl+q")  # now it quits
        await pilot.pause(0.3)
    assert console.return_code == 0


@pilot_test
async def test_a_procedure_that_does_not_check_is_not_flown_and_says_why(console, tmp_path):
    bad = tmp_path / "bad.proc"
    bad.write_text("send FIRE 9\n")
    async with console.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await _type(pilot, str(bad))
        assert "does not check, so it is not flown" in _hint(console)
        assert "bad.proc:1:" in _hint(console)
        assert console.procedures.runner is None
        await _type(pilot, "deploy-one SLOT=7")
        assert "param SLOT=7 is not one of SLOT=1..4" in _hint(console)
        assert console.procedures.runner is None


@pilot_test
async def test_through_a_server_without_command_authority_nothing_is_flown(sim, tmp_path):
    archive = Archive(str(tmp_path / "server.sqlite"))
    try:
        with Background(Server(sim.ports["link"], archive, timeout=TIMEOUT)) as server, \
                Client(server.url, name="holder") as holder, _console(server.url) as console:
            holder.take()
            runner.await_payload(holder)
            async with console.run_test(size=SIZE) as pilot:
                await pilot.press("f3")
                await _type(pilot, "checkout")
                assert "checkout.proc is not flown: command authority is #1 holder's" in _hint(console)
                assert console.procedures.runner is None
    finally:
        archive.close()
