"""The web console's Procedures page in a real browser (headless Chromium): a procedure the ground
server flies for a browser (ground/flight.py), its questions answered in the page, followed by a
second browser, stopped, and read back from the archive. One simulated board (the real firmware)
and one server; each run ends SAFE, and each release is of a slot no other test here needs."""

import json
import re
import socket

import pytest
from playwright.sync_api import expect

from ground import procedure, protocol
from tests.ground.browser import board_with_web, operator_page, show, take

TIMEOUT = 5.0  # s: verification timeout on a local link
WAIT_MS = 10000  # what a page is given to show something
RUN_MS = 90000  # a whole procedure on a loaded machine


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """The simulated board and a server on it with its web console."""
    with board_with_web(tmp_path_factory.mktemp("webproc"), timeout=TIMEOUT) as (_sim, server):
        yield server


@pytest.fixture(scope="module")
def alice(board, browser):
    page = operator_page(browser, board.web_url, "alice")
    take(page)
    expect(page.locator("#authority")).to_have_text("AUTHORITY this browser", timeout=WAIT_MS)
    return page


@pytest.fixture(scope="module")
def bob(board, browser):
    return operator_page(browser, board.web_url, "bob")


def _fly(page, name, params):
    show(page, "procedures")
    page.select_option("#proc-name", name)
    page.fill("#proc-params", params)
    page.click("#proc-fly")


def _answer_as_asked(page, answers, watcher=None):
    """Answer each question the page shows in turn: an answer, or None for what its prompt says to type."""
    previous = None
    for answer in answers:
        prompt = page.locator("#proc-prompt")
        expect(page.locator("#proc-question")).to_be_visible(timeout=RUN_MS)
        if previous is not None:
            expect(prompt).not_to_have_text(previous, timeout=RUN_MS)
        previous = prompt.inner_text()
        if watcher is not None:  # another browser sees the question, and cannot answer it
            expect(watcher.locator("#proc-prompt")).to_contain_text(previous, timeout=WAIT_MS)
            expect(watcher.locator("#proc-answer-send")).to_be_disabled()
        typed = answer if answer is not None else re.search(r"Type (\S+) to send it", previous).group(1)
        page.fill("#proc-answer", typed)
        page.click("#proc-answer-send")


def test_the_page_lists_the_shipped_procedures_checked(alice):
    show(alice, "procedures")
    names = alice.locator("#proc-name option").evaluate_all("nodes => nodes.map(n => n.value)")
    assert names == procedure.shipped()
    alice.select_option("#proc-name", "deploy-one.proc")
    expect(alice.locator("#proc-message")).to_have_text("usage: deploy-one.proc SLOT=1..4")


def test_a_browser_without_command_authority_cannot_fly_one(alice, bob):
    _fly(bob, "checkout.proc", "")
    expect(bob.locator("#proc-message")).to_contain_text("does not hold command authority", timeout=WAIT_MS)


def test_deploy_one_flown_from_the_page_asks_there_releases_the_slot_and_is_followed_by_another_browser(board,
                                                                                                      alice, bob):
    show(bob, "procedures")
    _fly(alice, "deploy-one.proc", "SLOT=1")
    expect(alice.locator("#authority")).not_to_have_text("AUTHORITY this browser", timeout=WAIT_MS)  # the run's
    _answer_as_asked(alice, ["GO", None, "GO", None], watcher=bob)
    for page in (alice, bob):
        expect(page.locator("#proc-status")).to_contain_text("deploy-one.proc for", timeout=RUN_MS)
        expect(page.locator("#proc-status")).to_contain_text("PASSED", timeout=RUN_MS)
    assert alice.locator("#proc-steps td.verdict.bad").count() == 0
    assert alice.locator("#proc-steps td.verdict.ok").count() >= 15  # every step flown, each judged OK
    assert "typed '1': confirmed" in alice.locator("#proc-entries").inner_text()
    expect(alice.locator("#authority")).to_have_text("AUTHORITY this browser", timeout=WAIT_MS)  # given back
    show(bob, "live")
    expect(bob.locator("#slot1 .state")).to_have_text("RELEASED", timeout=WAIT_MS)
    show(bob, "procedures")  # the run, read back from the archive as it was shown
    row = bob.locator("#proc-runs tbody tr", has_text="deploy-one.proc").first
    expect(row).to_contain_text("PASSED", timeout=WAIT_MS)
    row.locator("button").click()
    expect(bob.locator("#proc-recorded li")).to_have_count(alice.locator("#proc-entries li").count(), timeout=WAIT_MS)


def _refused(url, request):
    """The server's error for ``request`` from a client of its own (not the run's owner)."""
    with socket.create_connection(protocol.parse_url(url), timeout=5) as s:
        lines = s.makefile("rb")
        s.sendall(protocol.encode({"type": "hello", "protocol": protocol.VERSION, "name": "eve"}))
        s.sendall(protocol.encode(dict(request, id=1)))
        while (msg := json.loads(lines.readline()))["type"] != "reply":
            pass
        assert not msg["ok"]
        return msg["error"]


def test_stop_from_the_page_ends_the_run_and_its_on_abort_steps_make_safe(board, alice):
    _fly(alice, "deploy-one.proc", "SLOT=3")
    expect(alice.locator("#proc-question")).to_be_visible(timeout=RUN_MS)
    for request in ({"type": "proc_answer", "text": "GO"}, {"type": "proc_stop"}):  # nobody else's to answer or stop
        assert re.fullmatch("only web alice, who started deploy-one.proc, may (answer|stop) it",
                            _refused(board.url, request))
    alice.click("#proc-stop")
    status = alice.locator("#proc-status")
    expect(status).to_contain_text("INTERRUPTED", timeout=RUN_MS)
    expect(status).to_contain_text("stopped by the operator")
    expect(status).to_contain_text("on-abort completed")
    assert "SENT   ARM" not in alice.locator("#proc-entries").inner_text()
