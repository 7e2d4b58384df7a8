"""Headless Chromium from Debian's packages, driven by Playwright: the browser of the web
console's tests, its benchmark and its screenshots. Playwright never downloads a browser
here: it runs the system's (``make test`` installs it with apt-get when it is missing) and
gives each launch a fresh profile of its own."""

import os

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
