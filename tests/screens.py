"""`make docs-screens`: the pictures of the consoles in docs/GROUND.md, on a simulated board.

- The console at 80x24 and 120x40, as SVG: the real firmware in the sim and, as `make run`
  does, a ground server on it; the console on the server is driven through Textual's pilot
  (command authority taken, a PING, a parameter read, a hazardous command waiting for its
  confirmation) and each screen saved with Textual's screenshot; then its procedure panel
  (F3) after the checkout flown.
- The web console, as PNG: ``ground serve --http`` in its own process on another simulated
  board, in headless Chromium (tests/ground/browser.py): an operator takes command authority,
  ARMs and FIREs slot 2 through the form with its typed confirmation, and the pages are
  captured while housekeeping comes in; then the Procedures page after the checkout flown (it
  fails on HK_PERIOD, set for the plots: how a failed step shows).

Never part of `make test`: the pictures change with every run and are tracked files.
"""

import asyncio
import os
import queue
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from ground.archive import Archive
from ground.console import Console, open_client
from ground.server import Background, Server
from tests.ground.browser import launch, operator_page, send, served_board, show, take
from tests.sim.simproc import Sim

DOCS = Path(__file__).resolve().parents[1] / "docs"
SIZES = ((80, 24), (120, 40))
_LINES = ("PING", "PARAM_GET ARM_WINDOW", "FIRE_SEQUENCE 1,2 0")
HK_PERIOD_MS = 250  # web: denser housekeeping than the default second, so the plots show a shape in seconds
PLOTTED_S = 20  # web: housekeeping before and after the pass
WAIT_MS = 15000


async def _screen(url, size):
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=10) as client:
        client.take()
        app = Console(client, inbox)
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 15
            while client.latest_hk is None:
                assert time.monotonic() < deadline, "no housekeeping from the simulated board"
                await pilot.pause(0.1)
            for line in _LINES:
                app.query_one("#cmd").value = line
                await pilot.press("enter")
                await pilot.pause(1.0)
            name = "console-%dx%d.svg" % size
            app.save_screenshot(filename=name, path=str(DOCS))
            if size != SIZES[-1]:
                return ["docs/" + name]
            await pilot.press("escape", "f3")  # the procedure panel: the checkout flown to its end
            app.screen.query_one("#proc-input").value = "checkout.proc"
            await pilot.press("enter")
            while app.procedures.flying():
                await pilot.pause(0.2)
            await pilot.pause(0.5)
            app.save_screenshot(filename="console-procedure.svg", path=str(DOCS))
            return ["docs/" + name, "docs/console-procedure.svg"]


def console(state):
    with Sim(app="firmware.app") as sim:
        archive = Archive(os.path.join(state, "server.sqlite"))
        try:
            with Background(Server(sim.ports["link"], archive, timeout=10)) as server:
                return [path for size in SIZES for path in asyncio.run(_screen(server.url, size))]
        finally:
            archive.close()


def web_console(tmp):
    with served_board(tmp, HK_PERIOD_MS) as server, sync_playwright() as p:
        browser = launch(p)
        page = operator_page(browser, server.web, "alice")
        time.sleep(PLOTTED_S / 2)
        take(page)
        send(page, "ARM", "ARM")
        expect(page.locator("#timeline-command .command.COMPLETED")).to_have_count(1, timeout=WAIT_MS)
        send(page, "FIRE", "2", slot=2)
        expect(page.locator("#timeline-command .command.COMPLETED")).to_have_count(2, timeout=WAIT_MS)
        time.sleep(PLOTTED_S / 2)
        show(page, "live")
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "web-live.png"))
        show(page, "plots")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(DOCS / "web-plots.png"), full_page=True)
        send(page, "SAFE")  # the checkout starts from SAFE
        expect(page.locator("#timeline-command .command.COMPLETED")).to_have_count(3, timeout=WAIT_MS)
        show(page, "procedures")
        page.select_option("#proc-name", "checkout.proc")
        page.click("#proc-fly")
        # HK_PERIOD is not its reviewed flight value here (set for the plots): the checkout says so, and stops
        expect(page.locator("#proc-status")).to_contain_text("FAILED at line", timeout=WAIT_MS * 4)
        page.screenshot(path=str(DOCS / "web-procedures.png"))
        browser.close()
    return ["docs/web-live.png", "docs/web-plots.png", "docs/web-procedures.png"]


def main():
    with tempfile.TemporaryDirectory() as state:
        os.environ["XDG_STATE_HOME"] = state  # the screens' commands use their own sequence counts
        for path in console(state) + web_console(state):
            print("wrote %s" % path)


if __name__ == "__main__":
    main()
