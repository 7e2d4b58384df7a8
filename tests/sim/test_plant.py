"""The deployer plant model, clocked by hand (no processes, no sockets)."""

import pytest

from sim.plant import Plant, PlantError

BURN = 1.0  # s, burn time with no spread
BOUNCE_MS = 20


def plant(**kw):
    p = Plant(seed=7, burn_time=BURN, burn_spread=0.0, bounce_ms=BOUNCE_MS, **kw)
    p.set_arm(True, 0.0)
    return p


def burn_for(p, slot, seconds, start=0.0, step=0.01):
    p.burn(slot, start)
    t = start
    while t < start + seconds:
        t += step
        p.update(t)
    return t


def test_satellite_separates_after_continuous_current_for_the_burn_time():
    p = plant()
    burn_for(p, 0, BURN - 0.05)
    assert not p.slots[0].released_at
    p.update(BURN + 0.01)
    assert p.slots[0].released_at == pytest.approx(BURN, abs=0.02)


@pytest.mark.parametrize("inhibit", ["arm", "rbf_removed", "permit"])
def test_no_current_flows_without_every_hardware_inhibit(inhibit):
    p = plant()
    if inhibit == "arm":
        p.set_arm(False, 0.0)
    else:
        p.set_input(inhibit, False, 0.0)
    burn_for(p, 1, 2 * BURN)
    assert p.slots[1].released_at is None
    assert p.burns == [{"slot": 2, "start": 0.0, "end": None, "end_by": None, "powered": False}]


def test_switch_chatters_after_separation_then_reads_released():
    p = plant()
    burn_for(p, 0, BURN + 0.001, step=0.001)
    t0 = p.slots[0].released_at
    readings = [p.slots[0].switch(t0 + i / 10000) for i in range(BOUNCE_MS * 10)]
    assert readings.count(False) > 0 and readings.count(True) > 0
    assert all(p.slots[0].switch(t0 + BOUNCE_MS / 1000 + 0.005 + i / 1000) for i in range(100))


def test_stuck_switches_ignore_the_satellite():
    p = plant()
    p.inject("stuck_closed", 0, 0.0)
    p.inject("stuck_open", 1, 0.0)
    burn_for(p, 0, 2 * BURN)
    assert p.slots[0].released_at is not None and not p.slots[0].switch(5.0)
    assert p.slots[1].released_at is None and p.slots[1].switch(5.0)


def test_open_circuit_actuator_never_releases():
    p = plant()
    p.inject("open_circuit", 2, 0.0)
    burn_for(p, 2, 5 * BURN)
    assert p.slots[2].released_at is None
    assert not p.burns[0]["powered"]


def test_slow_release_needs_factor_times_the_burn_time():
    p = plant()
    p.inject("slow_release", 3, 0.0, factor=2.5)
    t = burn_for(p, 3, 2.4 * BURN)
    assert p.slots[3].released_at is None
    p.update(t + 0.2)
    assert p.slots[3].released_at == pytest.approx(2.5 * BURN, abs=0.02)


def test_early_release_separates_an_unfired_slot_and_stow_puts_it_back():
    p = plant()
    p.inject("early_release", 1, 3.0)
    assert p.slots[1].released_at == 3.0 and p.burns == []
    p.stow(1)
    assert p.slots[1].released_at is None and not p.slots[1].switch(10.0)


def test_burn_history_records_who_ended_each_burn():
    p = plant()
    p.burn(0, 1.0)
    p.cut(1.5, "firmware")
    p.burn(1, 2.0)
    p.cut(2.1, "cutoff")
    p.burn(2, 3.0)
    p.all_off(3.2)
    assert [(b["slot"], b["start"], b["end"], b["end_by"]) for b in p.burns] == [
        (1, 1.0, 1.5, "firmware"), (2, 2.0, 2.1, "cutoff"), (3, 3.0, 3.2, "reset")]
    assert not p.arm


def test_losing_current_restarts_the_burn_time():
    p = plant()
    t = burn_for(p, 0, 0.8 * BURN)
    p.set_input("permit", False, t)
    p.set_input("permit", True, t + 0.01)
    burn_for(p, 0, 0.8 * BURN, start=t + 0.01)
    assert p.slots[0].released_at is None


def test_same_seed_draws_the_same_burn_times_and_chatter():
    def run(seed):
        p = Plant(seed=seed, burn_time=BURN, burn_spread=0.2)
        p.set_arm(True, 0.0)
        burn_for(p, 0, 3 * BURN, step=0.001)
        return p.slots[0].released_at, p.slots[0].chatter

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_bad_settings_and_faults_are_refused_with_a_reason():
    p = plant()
    with pytest.raises(PlantError, match="unknown setting"):
        p.configure(burn_tim=1)
    with pytest.raises(PlantError, match="burn_time must be"):
        p.configure(burn_time=-1)
    with pytest.raises(PlantError, match="unknown slot fault"):
        p.inject("stuck", 0, 0.0)
    with pytest.raises(PlantError, match="unknown input"):
        p.set_input("rbf", True, 0.0)
