"""Headless Chromium from Debian's packages, driven by Playwright: the browser of the web
console's tests, its benchmark and its screenshots, and what an operator does in it (go to
a page, take command authority, send a command through the form). Playwright never
downloads a browser here: it runs the system's (``make test`` installs it with apt-get when
it is missing) and gives each launch a fresh profile of its own."""

import contextlib
import os
import time

from playwright.sync_api import expect

from firmware import dictionary as d
from ground.archive import Archive
from ground.client import Client
from ground.server import Background, Server
from tests.bench.server import _Server
from tests.sim.simproc import BOOT_TIMEOUT, Sim

CHROMIUM = "/usr/bin/chromium"
# No connection the closed network would refuse (updates, sync, QUIC), no GPU, no first-run UI;
# root in a container has no user namespace for the sandbox.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}


def launch(playwright):
    """A headless Chromium; AssertionError saying how to install it if it is missing."""
    assert os.path.exists(CHROMIUM), "%s is missing: make test installs it (apt-get install chromium)" % CHROMIUM
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


def operator_page(browser, url, operator):
    """A page of the web console at ``url`` in a browser context of its own, as ``operator``."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script("localStorage.setItem('operator', %r)" % operator)
    page = context.new_page()
    page.goto(url)
    return page


def show(page, name):
    """Go to the page ``name`` (live, command, plots, archive) by its tab."""
    page.click("nav a[data-page=%s]" % name)
    expect(page.locator("#page-" + name)).to_be_visible()


def take(page, token=None):
    """Press "Take command authority" (with ``token`` typed first, if given)."""
    show(page, "command")
    if token is not None:
        page.fill("#token", token)
    page.click("#take")


def send(page, command, typed=None, **args):
    """Fill the form with ``command`` and ``args`` and send it; ``typed``: the confirmation typed.
    Returns the confirmation the page showed (None for a harmless command)."""
    show(page, "command")
    page.select_option("#command", command)
    for name, value in args.items():
        page.fill("#arg-" + name, str(value))
    page.click("#send")
    if typed is None:
        return None
    expect(page.locator("#confirm")).to_be_visible()
    shown = page.inner_text("#confirm-text")
    page.fill("#confirm-typed", typed)
    page.click("#confirm-send")
    return shown


@contextlib.contextmanager
def served_board(tmp, hk_period_ms):
    """A simulated board (the real firmware) and ``ground serve --http`` on its link in a process of its
    own (its archive in ``tmp``), the board booted and sending housekeeping every ``hk_period_ms``
    (0: as fast as the line takes): the server (``url``, ``web``: the web console's URL). The client
    that set it up is gone: the server holds no command authority."""
    with Sim(app="firmware.app") as board:
        server = _Server(board.ports["link"], tmp, "--http", "127.0.0.1:0")
        try:
            with Client(server.url, name="setup", timeout=10) as c:
                c.take()
                c.send("PING")  # waits for the boot
                c.send("HK_PERIOD", d.HK_SID, hk_period_ms)
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def board_with_web(folder, token=None, timeout=5.0, boot_timeout=BOOT_TIMEOUT):
    """A simulated board (the real firmware) and, in this process, a ground server on it with its web
    console (``token``: its --token; its archive and sequence count in ``folder``), the board
    answering PING: (sim, server)."""
    archive = Archive(str(folder / "archive.sqlite"))
    with Sim(app="firmware.app") as sim:
        background = Background(Server(sim.ports["link"], archive, token=token, timeout=timeout,
                                       seq_file=str(folder / "seq")), http=("127.0.0.1", 0))
        try:
            with Client(background.url, name="boot", token=token, timeout=0.5, retries=0) as c:
                c.take()
                deadline = time.monotonic() + boot_timeout
                while not c.send("PING", check=False).ok:
                    assert time.monotonic() < deadline, "the simulated board did not answer PING"
            yield sim, background.server
        finally:
            background.stop()
            archive.close()
