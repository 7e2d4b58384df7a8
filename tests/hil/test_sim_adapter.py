"""The sim adapter speaks the control channel of sim/README.md and fails loudly.

A stand-in sim (fake_sim.py) records the requests and answers fixed fixtures.
"""

import json
import os
import sys

import pytest

from hil.targets import SimTarget, TargetError

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_sim.py")


@pytest.fixture
def sim(tmp_path):
    log = tmp_path / "requests.jsonl"
    target = SimTarget(["--seed", 3], str(tmp_path), start_timeout=5, command=(sys.executable, FAKE, str(log)))
    target.start()
    target.requests = lambda: [json.loads(line) for line in log.read_text().splitlines()]
    yield target
    target.stop()


def test_start_reads_the_link_url_from_the_banner(sim):
    assert sim.link_url == "socket://127.0.0.1:1"


def test_inputs_faults_and_reset_are_control_requests(sim):
    sim.set_input("permit", False)
    sim.stick_switch(4)
    sim.reset()
    assert sim.requests() == [
        {"cmd": "set", "input": "permit", "value": False},
        {"cmd": "inject", "fault": "stuck_closed", "slot": 4},
        {"cmd": "reset"},
    ]


def test_outputs_are_read_from_the_state(sim):
    sim.output_should_be("arm", True, 1)
    sim.output_should_be("actuator2", True, 1)
    with pytest.raises(TargetError, match="actuator1 did not turn on within 0.1 s"):
        sim.output_should_be("actuator1", True, 0.1)


def test_a_burn_seen_once_counts_once(sim):
    sim.play_satellite(2, 1)
    with pytest.raises(TargetError, match="slot 2 did not burn"):
        sim.play_satellite(2, 0.1)


def test_a_burn_still_on_is_not_staying_off(sim):
    with pytest.raises(TargetError, match="actuator of slot 2 burnt"):
        sim.actuator_should_stay_off(2, 0.1)
    sim.actuator_should_stay_off(1, 0.1)


def test_a_refused_request_fails_with_the_sims_reason(sim):
    with pytest.raises(TargetError, match="unknown cmd 'bad'"):
        sim.request("bad")


def test_a_sim_that_dies_is_reported_with_its_stderr(sim):
    with pytest.raises(TargetError, match="closed its control channel"):
        sim.request("die")
    with pytest.raises(TargetError, match="died with status 3 during the test:\nTraceback: MemoryError"):
        sim.stop()


def test_a_sim_that_cannot_start_is_reported_with_its_stderr(tmp_path):
    target = SimTarget([], str(tmp_path), start_timeout=5, command=(sys.executable, "-c", "import no_such_module"))
    with pytest.raises(TargetError, match="(?s)exited with status 1 before it started:.*no_such_module"):
        target.start()
