"""The exhaustive exploration in its quick form (tests/explore/scopes.py QUICK): no violation, and
proof that this form finds the defects of issue 11 with the rules of before their fixes put back
(the burn after a separation: the retry rule; the schedule replay: SCHED_INSERT's nested command
neither checked nor reserved), and those of an attacker's packets that a broken verifier lets
through (a MAC check that accepts anything; a BUSY refusal that does not spend the counter)."""

import pytest

from firmware import tables as T
from firmware.auth import Auth
from firmware.switches import Switches
from firmware.telemetry import ACCEPT
from firmware.verification import Verification
from tests.explore import scopes
from tests.explore.__main__ import lines
from tests.explore.search import explore, replay
from tests.explore.world import ALTERATIONS, RESTARTS, Bounds, World, flash_in_ram

pytestmark = pytest.mark.slow
SECONDS = 60  # a bound, not an expectation: the quick form takes about 10 s on an idle machine


def _quick(name):
    return explore(scopes.named(name, quick=True), max_seconds=SECONDS, log=lambda s: None)


def _messages(result):
    return [message for message, _events in result.violations.values()]


def test_quick_exploration_of_burns_retries_and_switches_finds_no_violation():
    r = _quick("retry")
    assert r.complete or r.depth == scopes.named("retry", quick=True).depth
    assert r.states > 5000 and not r.violations, _messages(r)


def test_quick_exploration_of_exactly_once_finds_no_violation():
    r = _quick("once")
    assert r.complete or r.depth == scopes.named("once", quick=True).depth
    assert r.states > 5000 and not r.violations, _messages(r)


def test_quick_exploration_finds_the_schedule_replay_with_the_insert_of_before_the_fix(monkeypatch):
    # Before the fix SCHED_INSERT kept its nested command as it came: no check, no reservation.
    monkeypatch.setattr(Verification, "reserve", lambda self, inner: 0)
    found = {m: e for m, e in _quick("once").violations.values()}
    replayed = [m for m in found if "(FIRE) executed twice: first from the link, now from the schedule" in m]
    assert replayed and all("executed twice" in m and "now from the schedule" in m for m in found), list(found)
    # FIRE 1 (refused, it is not ARMED: but it ran); TIME_SET; SCHED_INSERT of FIRE 1's bytes; PING x
    # N_RECENT (FIRE 1 leaves the record); time to the release
    assert len(found[replayed[0]]) == 5
    assert replay("once", found[replayed[0]]) == [replayed[0]]


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


def test_a_release_queued_behind_a_burn_and_lost_in_a_power_cut_comes_back_from_the_slot_s_switch():
    # Slot 2's satellite leaves on its own while slot 1 burns: RELEASED waits for the flash (no write
    # during a burn) and a power cut without VBAT takes it; the switch resolves it again.
    with flash_in_ram() as flash:
        w = World(scopes.named("inhibits"), flash)
        for event in [("ARM",), ("FIRE", 1), ("separate", 2), ("advance",)]:
            w.apply(event)
        assert w.app.state.slots[1] == T.RELEASED and w.app.store.pending
        w.apply(("power cut",))
        assert w.app.state.slots[1] == T.STOWED and w.found == []
        w.apply(("advance",))  # its switch's debounce
        assert w.app.state.slots[1] == T.RELEASED and w.found == [] and w.burns[1] == 0


def test_the_search_finds_the_same_states_on_one_core_as_on_two():
    bounds = scopes.named("once", quick=True)
    one = explore(bounds, max_states=3000, workers=1, log=lambda s: None)
    two = explore(bounds, max_states=3000, workers=2, log=lambda s: None)
    assert (one.states, one.transitions, one.levels) == (two.states, two.transitions, two.levels)


def test_a_restart_from_what_a_flash_write_left_is_the_restart_cut_into_that_write():
    # The search restarts in a flash write from what the write left (World.restart_in), not by running
    # the event again up to the cut (World.apply, which replays traces): both must leave the same world.
    with flash_in_ram() as flash:
        w = World(scopes.named("every"), flash)
        for event in [("ARM",), ("TIME_SET",), ("SCHED_INSERT", ("FIRE", 1)), ("FIRE", 2), ("advance",)]:
            w.apply(event)
        start = w.snapshot()
        compared = 0
        for event in [e for e in w.events if w.enabled(e)]:
            w.restore(start)
            points = []
            w.apply(event, points)
            for n, (_point, cut) in enumerate(points, 1):
                for kind in RESTARTS:
                    w.restore(start)
                    w.apply((kind, n, event))
                    cut_into = (w.snapshot(), w.found)
                    w.restore(start)
                    w.restart_in((kind, n, event), cut)
                    assert (w.snapshot(), w.found) == cut_into, (kind, n, event)
                    compared += 1
        assert compared > 50, compared


def test_quick_exploration_with_an_attacker_who_replays_and_alters_what_it_heard_finds_no_violation():
    r = _quick("attack")
    assert r.complete or r.depth == scopes.named("attack", quick=True).depth
    assert r.states > 1000 and not r.violations, _messages(r)


def test_every_alteration_of_the_attacker_keeps_a_good_crc_and_is_refused_by_the_authentication():
    codes = []
    with flash_in_ram() as flash:
        w = World(scopes.named("attack", quick=True), flash)
        w.apply(("FIRE", 1))  # refused NOT_ARMED: but it ran (so a replay is DUPLICATE)
        refuse = w.app.verification.refuse
        w.app.verification.refuse = lambda tc, code: (codes.append(code), refuse(tc, code))
        for what in ALTERATIONS:
            w.apply(("alter", "FIRE", what))
            assert w.found == [], what
        w.apply(("replay", "FIRE"))
    # (the MAC covers the header: a changed sequence count is a bad MAC)
    assert codes == [T.AUTH_MAC, T.AUTH_MAC, T.AUTH_MAC, T.AUTH_KEY, T.AUTH_MAC, T.AUTH_MISSING, T.DUPLICATE]


def test_quick_exploration_finds_an_altered_command_run_by_a_mac_check_that_accepts_anything(monkeypatch):
    monkeypatch.setattr(Auth, "_mac", lambda self, k, buf, n: bytes(buf[n:n + T.MAC_LEN]))  # the packet's own
    r = _quick("attack")
    found = {m: e for m, e in r.violations.values()}
    arm = [m for m in found if m.startswith("the attacker's copy of ARM with its counter changed ran ARM")]
    assert arm and all(m.startswith("the attacker's copy of") for m in found), list(found)
    assert found[arm[0]] == [("ARM",), ("alter", "ARM", "counter")]
    assert "  shortest trace (2 events): ARM | alter the counter of ARM" in lines([r])
    assert replay("attack", found[arm[0]]) == [arm[0]]


def test_quick_exploration_finds_the_replay_of_a_command_refused_busy_with_the_refusal_of_before_the_fix(
        monkeypatch):
    # Before the fix a BUSY refusal left the signed command's counter unspent: a copy ran after the burn.
    monkeypatch.setattr(Verification, "refuse", lambda self, tc, code: self._report(ACCEPT, tc, code))
    found = {m: e for m, e in _quick("attack").violations.values()}
    arm = [m for m in found if m.startswith("the attacker's replay of ARM ran ARM")]
    assert arm and all(m.startswith("the attacker's replay of") for m in found), list(found)
    # ARM; FIRE 1 (a burn); ARM (refused BUSY); time to the burn's end; the attacker's replay of that ARM
    assert found[arm[0]] == [("ARM",), ("FIRE", 1), ("ARM",), ("advance",), ("replay", "ARM")]
    assert replay("attack", found[arm[0]]) == [arm[0]]
