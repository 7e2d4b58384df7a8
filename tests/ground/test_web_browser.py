"""The web console in a real browser (headless Chromium, tests/ground/browser.py): one simulated
board (the real firmware) and one server for the pass, a fake payload where the link must drop."""

import http.server
import math
import re
import threading
import time

import pytest
from playwright.sync_api import expect

from ground import codec, hazard, plot
from ground.archive import Archive
from ground.server import Background, Server
from ground.web import data
from tests.ground.browser import board_with_web, operator_page, send, show, take

TOKEN = "s3cret-token"
TIMEOUT = 5.0  # s: verification timeout on a local link
WAIT_MS = 10000  # what a page is given to show something
STAGES = ["ACCEPTED", "STARTED", "PROGRESS", "COMPLETED"]  # a FIRE that releases at its first burn


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """The simulated board, and a server on it with its web console and a token: (sim, server)."""
    with board_with_web(tmp_path_factory.mktemp("web"), TOKEN, TIMEOUT) as both:
        yield both


@pytest.fixture(scope="module")
def alice(board, browser):
    """The operator's browser: it takes command authority."""
    return operator_page(browser, board[1].web_url, "alice")


@pytest.fixture(scope="module")
def bob(board, browser):
    """A second browser in the room, watching."""
    return operator_page(browser, board[1].web_url, "bob")


def _command(page, text):
    """The timeline entry of the newest command shown as ``text``."""
    return page.locator("#timeline li.command", has=page.locator(".what", has_text=re.compile("^%s$" % text))).first


def _stages(entry):
    return entry.locator(".stage").evaluate_all("nodes => nodes.map(n => n.dataset.stage)")


def test_the_live_page_shows_safe_and_every_slot_stowed_on_a_fresh_board(alice):
    show(alice, "live")
    expect(alice.locator("#state")).to_have_text("SAFE", timeout=WAIT_MS)
    for slot in range(1, 5):
        expect(alice.locator("#slot%d .state" % slot)).to_have_text("STOWED")
    expect(alice.locator("#link")).to_have_text("LINK UP")
    expect(alice.locator("#inhibit-ARMED")).to_have_text("ARMED off")
    expect(alice.locator("body")).not_to_have_class(re.compile("stale"))
    expect(alice.locator("#hk tr[data-field=temperature] .value")).to_have_text("25.0 C")


def test_a_wrong_token_is_refused_and_the_right_one_gives_command_authority(alice):
    take(alice, "guess")
    expect(alice.locator("#authority-message")).to_have_text(re.compile("needs this server's token .*wrong"))
    expect(alice.locator("#authority")).to_have_text("AUTHORITY nobody")
    take(alice, TOKEN)
    expect(alice.locator("#authority")).to_have_text("AUTHORITY this browser")
    expect(alice.locator("#send")).to_be_enabled()


@pytest.fixture(scope="module")
def fired(board, alice, bob):
    """ARM, then FIRE 2, typed and confirmed in alice's form while bob watches: (what alice's form
    said of each, the sim's burns before)."""
    sim, _server = board
    expect(bob.locator("#state")).to_have_text("SAFE", timeout=WAIT_MS)  # bob is watching before the pass
    if alice.inner_text("#authority") != "AUTHORITY this browser":
        take(alice, TOKEN)
        expect(alice.locator("#authority")).to_have_text("AUTHORITY this browser")
    before = sim.do("burns")["burns"]
    shown = {"ARM": send(alice, "ARM", "ARM")}
    expect(_command(alice, "ARM").locator(".status")).to_have_text("COMPLETED", timeout=WAIT_MS)
    shown["FIRE 2"] = send(alice, "FIRE", "2", slot=2)
    expect(_command(alice, "FIRE 2").locator(".status")).to_have_text("COMPLETED", timeout=WAIT_MS)
    return shown, before


def test_a_wrong_confirmation_cancels_a_hazardous_command_and_nothing_is_sent(board, alice):
    sim, _server = board
    if alice.inner_text("#authority") != "AUTHORITY this browser":
        take(alice, TOKEN)
    before = sim.do("state")
    send(alice, "FIRE", "1", slot=3)
    expect(alice.locator("#send-result")).to_have_text("FIRE 3 cancelled: the confirmation did not match")
    expect(alice.locator("#confirm")).to_be_hidden()
    time.sleep(0.5)
    assert sim.do("state")["slots"] == before["slots"]
    assert _command(alice, "FIRE 3").count() == 0


def test_arm_then_fire_2_through_the_form_releases_slot_2_and_the_timeline_shows_every_stage(board, alice, fired):
    sim, _server = board
    shown, before = fired
    for typed, words in (("ARM", ["ARM"]), ("FIRE 2", ["FIRE", "2"])):
        confirm = hazard.confirmation(codec.build(words[0], words[1:], lambda: 0))
        assert shown[typed] == "HAZARDOUS %s." % confirm.text  # the console's words, from ground/hazard.py
    burns = sim.do("burns")["burns"][len(before):]
    assert [(b["slot"], b["powered"], b["end_by"]) for b in burns] == [(2, True, "firmware")]
    assert [s["released"] for s in sim.do("state")["slots"]] == [False, True, False, False]
    show(alice, "live")
    expect(alice.locator("#slot2 .state")).to_have_text("RELEASED", timeout=WAIT_MS)
    fire = _command(alice, "FIRE 2")
    assert _stages(fire) == STAGES
    for at in fire.locator(".stage .at").all_inner_texts():
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", at)
    expect(fire.locator(".owner")).to_have_text(re.compile(r"^by #\d+ web alice \(this browser\)$"))
    assert _stages(_command(alice, "ARM")) == ["ACCEPTED", "STARTED", "COMPLETED"]


def test_a_second_browser_sees_the_same_pass_without_authority_and_cannot_command(board, alice, bob, fired):
    sim, _server = board
    show(bob, "live")
    expect(bob.locator("#slot2 .state")).to_have_text("RELEASED", timeout=WAIT_MS)
    fire = _command(bob, "FIRE 2")
    expect(fire.locator(".status")).to_have_text("COMPLETED")
    assert _stages(fire) == STAGES
    alice_name = alice.inner_text("#whoami").split()[2:5]  # you are #N web alice on ...
    expect(fire.locator(".owner")).to_have_text("by " + " ".join(alice_name))
    expect(bob.locator("#authority")).to_have_text("AUTHORITY " + " ".join(alice_name))
    show(bob, "command")
    expect(bob.locator("#send")).to_be_disabled()
    expect(bob.locator("#send-why")).to_have_text(re.compile("held by #\\d+ web alice: take it first"))
    burns = len(sim.do("burns")["burns"])
    reply = bob.evaluate(_RAW_COMMAND, ["FIRE", "3"])  # past the page: the server itself refuses
    assert not reply["ok"] and reply["kind"] == "authority" and "does not hold command authority" in reply["error"]
    time.sleep(0.5)
    assert len(sim.do("burns")["burns"]) == burns


def _step(labels):
    """The one step between a plot's value ticks."""
    values = [float(x) for x in labels.split()]
    steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1, "ticks not evenly spaced: %s" % labels
    return steps.pop()


def test_the_plots_page_draws_housekeeping_live_and_from_the_archived_session(board, bob, fired):
    session = board[1].archive.session
    show(bob, "plots")
    temperature = bob.locator("#plots canvas[data-field=temperature]")
    expect(temperature).to_have_count(1)
    assert int(temperature.get_attribute("data-points")) > 0
    expect(bob.locator("#plots canvas")).to_have_count(len(plot.DEFAULT_FIELDS))
    for field in ("tc_accepted", "heap_free"):  # a count's values over the pass: round, evenly spaced ticks
        labels = bob.get_attribute("#plots canvas[data-field=%s]" % field, "data-ticks")
        step = _step(labels)
        assert step >= 1 and "." not in labels, labels
        assert step / 10 ** math.floor(math.log10(step)) in (1, 2, 5), labels
    bob.select_option("#plot-source", str(session))
    message = bob.locator("#plot-message")
    expect(message).to_have_text(re.compile(r"^\d+ housekeeping reports of session %d, " % session))
    archived = int(message.inner_text().split()[0])
    assert int(temperature.get_attribute("data-points")) == archived  # the session's, as the archive has them
    assert 0 < archived <= len(data.hk_series(board[1].archive.rows(session=session))["t"])


def test_the_archive_page_filters_rows_by_command_and_exports_the_same_selection(board, bob, fired):
    show(bob, "archive")
    expect(bob.locator("#sessions tr[data-session='%d']" % board[1].archive.session)).to_contain_text("running")
    bob.select_option("#archive-command", "FIRE")
    bob.click("#archive-form button[type=submit]")
    expect(bob.locator("#archive-message")).to_have_text(re.compile(r"^\d+ rows$"))
    types = bob.locator("#rows tbody td:nth-child(2)").all_inner_texts()
    assert types[0] == "TC" and set(types) == {"TC", "TM", "COMMAND"}
    expect(bob.locator("#rows tbody tr").first).to_contain_text("FIRE 2")
    assert bob.get_attribute("#export-csv", "href") == "/api/rows?format=csv&command=FIRE"
    assert bob.get_attribute("#export-jsonl", "href") == "/api/rows?format=jsonl&command=FIRE"


_RAW_COMMAND = """words => new Promise((resolve) => {
  const ws = new WebSocket("ws://" + location.host + "/ws");
  ws.onopen = () => {
    ws.send(JSON.stringify({type: "hello", protocol: 1, name: "web bob"}));
    ws.send(JSON.stringify({type: "command", id: 7, words, confirm: true}));
  };
  ws.onmessage = (e) => {
    for (const line of e.data.split("\\n")) {
      const m = line ? JSON.parse(line) : {};
      if (m.type === "reply" && m.id === 7) { resolve(m); ws.close(); }
    }
  };
})"""

_FROM_ELSEWHERE = """url => new Promise((resolve) => {
  const ws = new WebSocket(url.replace("http", "ws") + "ws");
  ws.onopen = () => resolve("open");
  ws.onclose = () => resolve("refused");
})"""


@pytest.fixture
def elsewhere():
    """Another site on this machine (another port: another origin): its URL."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>another site</p>")

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/" % site.server_address[1]
    site.shutdown()
    site.server_close()


def test_a_page_of_another_site_cannot_open_the_stream_or_read_the_console(board, browser, elsewhere):
    url = board[1].web_url
    context = browser.new_context()
    page = context.new_page()
    page.goto(elsewhere)
    assert page.evaluate(_FROM_ELSEWHERE, url) == "refused"
    assert page.evaluate("url => fetch(url + 'api/dictionary').then(() => 'read', () => 'refused')", url) == "refused"
    own = context.new_page()
    own.goto(url)
    assert own.evaluate(_FROM_ELSEWHERE, url) == "open"  # the same request from the console's own page
    context.close()


@pytest.fixture
def fake_web(fw, tmp_path):
    """A server with its web console on the fake payload: start(**Server options) -> the web URL."""
    started = []

    def start(**options):
        archive = Archive(str(tmp_path / ("archive%d.sqlite" % len(started))))
        started.append((Background(Server(fw.url, archive, timeout=TIMEOUT, **options), http=("127.0.0.1", 0)),
                        archive))
        return started[-1][0].server.web_url

    yield start
    for background, archive in started:
        background.stop()
        archive.close()


def test_housekeeping_that_stops_and_then_the_link_going_down_grey_the_page(fw, fake_web, browser):
    page = operator_page(browser, fake_web(), "carol")
    fw.send_hk()
    expect(page.locator("#link")).to_have_text("LINK UP", timeout=WAIT_MS)
    expect(page.locator("body")).not_to_have_class(re.compile("stale"))
    expect(page.locator("#slots")).to_have_css("opacity", "1")
    expect(page.locator("#stale-banner")).to_have_text(re.compile("no housekeeping for"), timeout=WAIT_MS)
    expect(page.locator("#link")).to_have_text("LINK UP")
    fw.send_hk()
    expect(page.locator("#stale-banner")).to_be_hidden()
    fw.stop()
    expect(page.locator("#link")).to_have_text("LINK DOWN", timeout=WAIT_MS)
    expect(page.locator("body")).to_have_class(re.compile("stale"))
    expect(page.locator("#stale-banner")).to_have_text(re.compile("link to the payload DOWN"))
    expect(page.locator("#slots")).to_have_css("opacity", "0.35")  # greyed, still readable
    expect(page.locator("#slot1 .state")).to_have_text("STOWED")  # the last values stay, greyed
    page.context.close()


def test_two_person_rule_a_second_browser_approves_by_typing_the_same_answer(fw, fake_web, browser):
    url = fake_web(two_person=True)
    alice, bob = operator_page(browser, url, "alice"), operator_page(browser, url, "bob")
    take(alice)
    expect(alice.locator("#authority")).to_have_text("AUTHORITY this browser", timeout=WAIT_MS)
    send(alice, "FIRE", "2", slot=2)
    expect(alice.locator("#send-result")).to_have_text("held: approval 1 waits for a second operator")
    show(bob, "command")
    asked = bob.locator("#approvals li[data-approval='1']")
    expect(asked).to_contain_text(re.compile(r"asked by #\d web alice: HAZARDOUS FIRE 2: release slot 2"))
    assert fw.received == []
    asked.locator("input").fill("3")
    asked.locator("button").click()
    expect(bob.locator("#approve-message")).to_have_text("approval 1 not given: the confirmation did not match")
    asked.locator("input").fill("2")
    asked.locator("button").click()
    fire = _command(alice, "FIRE 2")
    expect(fire.locator(".approver")).to_have_text(re.compile(r"^, approved by #\d web bob$"), timeout=WAIT_MS)
    expect(fire.locator(".status")).to_have_text("COMPLETED")
    assert len(fw.received) == 1
    alice.context.close()
    bob.context.close()
