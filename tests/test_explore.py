"""The exhaustive exploration in its quick form (tests/explore/scopes.py QUICK): no violation but
the one still open, and proof that this form finds the defects of issue 11 (the burn after a
separation, with the retry rule of before the fix put back; the schedule replay, still open)."""

import pytest

from firmware import tables as T
from firmware.switches import Switches
from tests.explore import scopes
from tests.explore.search import explore, replay
from tests.explore.world import Bounds

pytestmark = pytest.mark.slow
SECONDS = 60  # a bound, not an expectation: the quick form takes about 10 s on an idle machine
# Issue 11 part 2 (exactly-once through the schedule) is not fixed yet: the one kind of violation
# expected until it is. When it lands, this becomes empty and the test below a mutation test.
OPEN = "executed twice: first from the link, now from the schedule"


def _quick(name):
    return explore(scopes.named(name, quick=True), max_seconds=SECONDS, log=lambda s: None)


def _messages(result):
    return [message for message, _events in result.violations.values()]


def test_quick_exploration_of_burns_retries_and_switches_finds_no_violation():
    r = _quick("retry")
    assert r.complete or r.depth == scopes.named("retry", quick=True).depth
    assert r.states > 5000 and not r.violations, _messages(r)


def test_quick_exploration_of_exactly_once_finds_only_the_open_schedule_replay():
    r = _quick("once")
    assert r.states > 5000
    assert all("executed twice" in m and "now from the schedule" in m for m in _messages(r)), _messages(r)
    assert any(OPEN in m for m in _messages(r)), _messages(r)
    message, events = next(v for v in r.violations.values() if OPEN in v[0])
    assert len(events) <= 5 and replay("once", events) == [message]


def test_quick_exploration_finds_the_burn_after_separation_with_the_retry_rule_before_the_fix(monkeypatch):
    # Before the fix a retry waited COOLDOWN only, and FIRE only for a switch read once since boot.
    monkeypatch.setattr(Switches, "settled", lambda self, s: self.level[s] >= 0)
    r = _quick("retry")
    found = {m: e for m, e in r.violations.values()}
    retry = [m for m in found if "left during a burn" in m and "a retry of the same command" in m]
    assert retry, list(found)
    # ARM; PARAM_SET BURN_MAX, COOLDOWN, DEBOUNCE (refused BUSY while a burn runs: so before FIRE); FIRE,
    # the release, 4 x time (burn end, end of the chatter, end of the switch's settling, cooldown end)
    assert len(found[retry[0]]) == 10
    assert replay("retry", found[retry[0]]) == [retry[0]]


def _power(kinds, monkeypatch=None):
    """ARM, FIRE, their resends and ``kinds`` (a reset or a power cut); with ``monkeypatch`` no
    command is persisted (its record goes to the backup SRAM only)."""
    if monkeypatch:
        monkeypatch.setattr(T, "CMD_PERSISTED", bytes(len(T.CMD_PERSISTED)))
    bounds = Bounds("power", ("ARM", "FIRE", "ABORT", "resend", "advance") + kinds, slots=1, depth=6)
    return _messages(explore(bounds, max_seconds=SECONDS, log=lambda s: None))


def test_exploration_runs_no_command_twice_across_a_power_cut_and_finds_it_if_records_stay_off_the_flash(
        monkeypatch):
    assert _power(("power cut",)) == []
    found = _power(("power cut",), monkeypatch)
    assert any("(ARM) executed twice" in m for m in found), found


def test_exploration_runs_no_command_twice_across_a_reset_with_records_in_the_backup_sram_alone(monkeypatch):
    assert _power(("reset",), monkeypatch) == []


def test_the_search_finds_the_same_states_on_one_core_as_on_two():
    bounds = scopes.named("once", quick=True)
    one = explore(bounds, max_states=3000, workers=1, log=lambda s: None)
    two = explore(bounds, max_states=3000, workers=2, log=lambda s: None)
    assert (one.states, one.transitions, one.levels) == (two.states, two.transitions, two.levels)
