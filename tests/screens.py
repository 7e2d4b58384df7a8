"""``make docs-screens``: the screenshots in docs/GROUND.md, made with the browser of the tests.

The web console on the simulated board (the real firmware), through ``ground serve --http``
in its own process, in headless Chromium (tests/ground/browser.py): an operator takes command
authority, ARMs and FIREs slot 2 through the form with its typed confirmation, and the pages
are captured while housekeeping comes in. Never run by ``make test``: it rewrites tracked files.
"""

import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.ground.browser import launch, operator_page, send, served_board, show, take

DOCS = Path(__file__).resolve().parents[1] / "docs"
HK_PERIOD_MS = 250  # denser housekeeping than the default second: the plots show a shape in seconds
PLOTTED_S = 20  # housekeeping before and after the pass
WAIT_MS = 15000


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
        browser.close()
    return ["docs/web-live.png", "docs/web-plots.png"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for path in web_console(tmp):
            print("wrote %s" % path)


if __name__ == "__main__":
    main()
