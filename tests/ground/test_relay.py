"""The ground's verdict over a link that repeats, drops and reorders frames never contradicts what
the payload did (the real firmware in the sim; the truth is what the payload reported, as the relay
saw it before any fault)."""

import time

import pytest

from ground.__main__ import main
from ground.client import COMPLETED, FAILED, TIMEOUT, Client, default_seq_file
from tests.ground.relay import Faults, Relay
from tests.sim.simproc import BOOT_TIMEOUT, Sim, wait_for

pytestmark = pytest.mark.slow
VERIFY_S = 1.5  # s: verification timeout on a local link (a burn in the sim's plant takes about 1 s)
# A session of commands whose outcomes differ: successes, refusals, a burn that takes a while
SESSION = [("PING",), ("ARM",), ("FIRE", 2), ("PARAM_GET", 2), ("FIRE", 2), ("DISARM",), ("FIRE", 3),
           ("PING",), ("HK_ONE_SHOT", 1), ("ARM",), ("FIRE", 4), ("DISARM",)]


@pytest.fixture(autouse=True)
def _one_ground(tmp_path, monkeypatch):
    """One saved sequence count per board, as one ground station keeps it."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))


@pytest.fixture
def sim():
    with Sim(app="firmware.app") as s:
        with Client(s.ports["link"], timeout=0.5, retries=0, seq_file=default_seq_file()) as c:
            wait_for(lambda: c.send("PING", check=False).ok, BOOT_TIMEOUT, "the firmware to answer PING")
        yield s


def test_ground_send_over_a_link_that_repeats_every_uplink_frame_reports_the_burn_it_caused(sim, capsys):
    with Relay(sim.ports["link"], up=Faults(repeat=1.0)) as relay:
        assert main(["send", relay.url, "ARM", "--yes", "--timeout", "5"]) == 0
        assert main(["send", relay.url, "FIRE", "1", "--yes", "--timeout", "5"]) == 0
        assert relay.counts["up"]["repeated"] >= 2
    out = capsys.readouterr()
    assert "FIRE 1" in out.out and "COMPLETED" in out.out and "NOT executed" not in out.out + out.err
    burns = sim.do("burns")["burns"]
    assert [b["slot"] for b in burns] == [1]  # the repeat ran nothing twice
    assert sim.do("state")["slots"][0]["released"]


def test_verdicts_over_a_link_that_drops_repeats_and_reorders_both_ways_never_contradict_the_payload(sim):
    noise = {"drop": 0.1, "repeat": 0.1, "reorder": 0.1}
    with Relay(sim.ports["link"], up=Faults(seed=3, **noise), down=Faults(seed=4, **noise)) as relay, \
            Client(relay.url, timeout=VERIFY_S, retries=3, seq_file=default_seq_file()) as c:
        verdicts = [c.send(*cmd, confirm=True, check=False) for cmd in SESSION * 2]
        time.sleep(0.5)  # reports still in flight reach the relay
    for name in ("up", "down"):
        counts = relay.counts[name]
        assert counts["dropped"] and counts["repeated"] and counts["reordered"], (name, counts)
    for v in verdicts:
        truth = relay.truth(v.request_id)
        assert v.status in (COMPLETED, FAILED, TIMEOUT), v
        if v.status == COMPLETED:
            assert truth == "COMPLETED", (str(v), truth)
        if v.status == FAILED:
            assert truth != "COMPLETED", (str(v), truth)
    assert sum(v.status == TIMEOUT for v in verdicts) <= 2, [str(v) for v in verdicts]
    burned = [b["slot"] for b in sim.do("burns")["burns"]]
    assert len(burned) == len(set(burned)) and set(burned) <= {2, 4}, burned  # no FIRE ran twice
