"""Fixtures: a fake payload on a local TCP port and a Client connected to it; an archive; a browser."""

import pytest
from playwright.sync_api import sync_playwright

from ground.archive import Archive
from ground.client import Client
from tests.ground.browser import launch
from tests.ground.fakefw import FakeFirmware

FAST = 0.5  # s: verification timeout for a local link (real links: ground.client.DEFAULT_TIMEOUT)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    """The CLI keeps its TC sequence count under XDG_STATE_HOME: one per test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture(scope="module")
def ground_state(tmp_path_factory):
    return tmp_path_factory.mktemp("ground-state")


@pytest.fixture
def one_ground(ground_state, monkeypatch):
    """For a module on one board (``pytestmark = pytest.mark.usefixtures("one_ground")``): every
    client and CLI run counts on from one saved sequence count, as one ground station does, so
    that no two commands share a request id by chance."""
    monkeypatch.setenv("XDG_STATE_HOME", str(ground_state))


@pytest.fixture
def fw():
    fake = FakeFirmware()
    yield fake
    fake.stop()


@pytest.fixture
def client(fw):
    with Client(fw.url, timeout=FAST, retries=1) as c:
        yield c


@pytest.fixture
def archive(tmp_path):
    a = Archive(str(tmp_path / "archive.sqlite"))
    yield a
    a.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (tests/ground/browser.py), one for a module."""
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
