"""Fixtures: a fake payload on a local TCP port and a Client connected to it."""

import pytest

from ground.client import Client
from tests.ground.fakefw import FakeFirmware

FAST = 0.5  # s: verification timeout for a local link (real links: ground.client.DEFAULT_TIMEOUT)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    """The CLI keeps its TC sequence count under XDG_STATE_HOME: one per test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def fw():
    fake = FakeFirmware()
    yield fake
    fake.stop()


@pytest.fixture
def client(fw):
    with Client(fw.url, timeout=FAST, retries=1) as c:
        yield c
