"""The real firmware (firmware.app) on the simulated board: the behaviour DESIGN.md
requires under each plant fault, seen only through the link and the control channel."""

import struct

import pytest

from firmware import dictionary as d
from tests.sim.simproc import PusLink, Sim, pty_link

BURN_S = 0.2  # plant burn time: short, so a full release takes about a second
FAST = {d.P_BURN_MAX: 500, d.P_COOLDOWN: 500}  # ms; the retry path in ~2.5 s
SLOT_STATE_AT = struct.calcsize(d.fmt(d.HK_FIELDS[:[f.name for f in d.HK_FIELDS].index("slot1")]))  # slots 1-4
BOOT_S = 10.0  # a blank flash: formatting and the first records take about 6 s of sector erases
FAT_BOOT_S = 60.0  # on FAT a record's temp file and rename touch three sectors (table, directory, data)
_ENDS = {t.subtype: t for t in d.TELEMETRY  # PUS 1 subtype -> the reports that end a command
         if t.name in ("ACCEPT_FAILED", "START_FAILED", "COMPLETED", "COMPLETION_FAILED")}


def start(*args):
    return Sim("--burn-time", str(BURN_S), "--burn-spread", "0", *args, app="firmware.app")


def is_tm(name):
    t = d.telemetry(name)
    return lambda tm: (tm.service, tm.subtype) == (t.service, t.subtype)


def hk_slots(tm):
    return tuple(tm.data[SLOT_STATE_AT:SLOT_STATE_AT + d.N_SLOTS])


def event(eid, *fields):
    """Predicate: an event ``eid`` whose data starts with ``fields`` (one byte each)."""
    head = struct.pack(">H", eid) + bytes(fields)
    return lambda tm: tm.service == 5 and tm.data.startswith(head)


class Ground:
    """Just enough of a ground segment to command the firmware in tests."""

    def __init__(self, link):
        self.pus = PusLink(link)

    def booted(self, timeout=BOOT_S):
        """Wait for housekeeping showing every slot resolved (STOWED or better)."""
        self.pus.wait(lambda tm: is_tm("HK")(tm) and d.UNKNOWN not in hk_slots(tm), timeout, "HK after boot")
        return self

    def send(self, name, *args):
        c = d.command(name)
        data = (struct.pack(">H", c.function) if c.function else b"") + struct.pack(d.fmt(c.args), *args)
        return self.pus.send(c.service, c.subtype, data)

    def run(self, name, *args, timeout=5.0):
        """Send and wait for the outcome: (telemetry name, failure code or None)."""
        rid = struct.pack(">I", self.send(name, *args))
        tm = self.pus.wait(lambda tm: tm.service == 1 and tm.data[:4] == rid and tm.subtype in _ENDS,
                           timeout, "outcome of %s" % name)
        end = _ENDS[tm.subtype]
        values = struct.unpack(d.fmt(end.fields), tm.data)  # request id, then code and data on failure
        return end.name, (values[1] if len(values) > 1 else None)

    def fast_retries(self):
        for pid, value in FAST.items():
            assert self.run("PARAM_SET", pid, value) == ("COMPLETED", None)

    def slots(self):
        self.pus.tms.clear()
        return hk_slots(self.pus.wait(is_tm("HK"), 3, "HK"))

    def saw(self, predicate):
        return any(predicate(tm) for tm in self.pus.tms)


@pytest.fixture
def fw():
    with start() as s:
        link = s.link()
        yield s, Ground(link).booted()
        link.close()


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_firmware_boots_answers_ping_and_releases_every_slot(transport):
    with start("--pty") as s:
        link = s.link() if transport == "tcp" else pty_link(s.ports["pty"])
        g = Ground(link).booted()  # the BOOT event went out before anyone listened, as on a wire
        g.send("PING")
        g.pus.wait(is_tm("PONG"), 3, "PONG")
        assert g.run("ARM") == ("COMPLETED", None)
        assert g.run("FIRE_SEQUENCE", 0b1111, 0, timeout=15) == ("COMPLETED", None)
        assert all(slot["released"] for slot in s.do("state")["slots"])
        assert g.slots() == (d.RELEASED,) * d.N_SLOTS
        burns = s.do("burns")["burns"]
        assert [b["slot"] for b in burns] == [1, 2, 3, 4]
        assert all(a["end"] <= b["start"] for a, b in zip(burns, burns[1:], strict=False)), "one actuator at a time"
        link.close()


@pytest.mark.parametrize("fault", ["stuck_closed", "open_circuit"])
def test_unconfirmed_release_is_retried_then_the_slot_fails_with_events(fw, fault):
    s, g = fw
    g.fast_retries()
    s.do("inject", fault=fault, slot=2)
    assert g.run("ARM") == ("COMPLETED", None)
    assert g.run("FIRE", 2, timeout=10) == ("COMPLETION_FAILED", d.NOT_CONFIRMED)
    burns = s.do("burns")["burns"]
    assert len(burns) == 1 + d.parameter(d.P_RETRIES).default
    assert all(b["slot"] == 2 and b["end"] - b["start"] <= FAST[d.P_BURN_MAX] / 1000 for b in burns)
    assert g.saw(event(d.EV_SLOT_FAILED, 2)) and g.saw(event(d.EV_BURN_END, 2))
    assert g.slots()[1] == d.FAILED


def test_a_release_the_debounce_has_not_confirmed_when_the_retry_is_due_is_never_powered_again(fw):
    s, g = fw  # issue 11: the satellite leaves 0.2 s into a 0.5 s burn; the debounce needs 1 s
    for pid, value in ((d.P_BURN_MAX, 500), (d.P_COOLDOWN, 500), (d.P_DEBOUNCE, 1000)):
        assert g.run("PARAM_SET", pid, value) == ("COMPLETED", None)
    assert g.run("ARM") == ("COMPLETED", None)
    assert g.run("FIRE", 1, timeout=10) == ("COMPLETED", None)
    assert [(b["slot"], b["powered"]) for b in s.do("burns")["burns"]] == [(1, True)]
    assert g.slots()[0] == d.RELEASED


def test_slow_release_is_confirmed_by_a_longer_burn(fw):
    s, g = fw
    s.do("inject", fault="slow_release", slot=3, factor=4)  # 0.8 s: under BURN_MAX (3 s)
    assert g.run("ARM") == ("COMPLETED", None)
    assert g.run("FIRE", 3, timeout=10) == ("COMPLETED", None)
    burn = s.do("burns")["burns"][0]
    assert burn["end"] - burn["start"] >= 3.5 * BURN_S
    assert g.slots()[2] == d.RELEASED


@pytest.mark.parametrize("fault", ["early_release", "stuck_open"])
def test_a_switch_showing_release_of_an_unfired_slot_raises_an_event(fw, fault):
    s, g = fw
    s.do("inject", fault=fault, slot=4)
    g.pus.wait(event(d.EV_EARLY_RELEASE, 4), 3, "EARLY_RELEASE")
    assert s.do("burns")["burns"] == []


def test_brownout_mid_burn_leaves_the_slot_resolved_and_nothing_fires_again(fw):
    s, g = fw
    s.do("inject", fault="brownout", at="burn_start")
    assert g.run("ARM") == ("COMPLETED", None)
    g.pus.tms.clear()  # the first boot's SLOT_RESOLVED events are not the ones after the brown-out
    g.send("FIRE", 1)
    g.pus.wait(event(d.EV_BOOT, 0, 2, d.RESET_CAUSES.index("BROWN_OUT")), BOOT_S, "BOOT after the brown-out")
    g.pus.wait(event(d.EV_SLOT_UNKNOWN, 1), 2, "SLOT_UNKNOWN")
    g.pus.wait(event(d.EV_SLOT_RESOLVED, 1, d.STOWED), 2, "SLOT_RESOLVED")
    assert g.slots()[0] == d.STOWED
    state = s.do("state")
    assert state["board"]["last_reset"] == "BROWN_OUT" and not state["outputs"]["arm"]
    assert [b["end_by"] for b in s.do("burns")["burns"]] == ["reset"]


def test_power_cut_during_a_parameter_write_keeps_the_previous_value(fw):
    s, g = fw
    assert g.run("PARAM_SET", d.P_ARM_WINDOW, 120) == ("COMPLETED", None)
    s.do("inject", fault="powercut", write=1)
    g.send("PARAM_SET", d.P_ARM_WINDOW, 300)
    g.pus.wait(event(d.EV_BOOT, 0, 2, d.RESET_CAUSES.index("POWER_ON")), BOOT_S, "BOOT after the power cut")
    g.pus.tms.clear()
    g.send("PARAM_GET", d.P_ARM_WINDOW)
    param = g.pus.wait(is_tm("PARAM"), 3, "PARAM")
    assert struct.unpack(">HI", param.data) == (d.P_ARM_WINDOW, 120)


def test_on_fat_a_parameter_set_survives_a_power_cycle():
    with start("--fs", "fat") as s:
        link = s.link()
        g = Ground(link).booted(FAT_BOOT_S)
        assert g.run("PARAM_SET", d.P_ARM_WINDOW, 120, timeout=10) == ("COMPLETED", None)
        s.do("power_cycle")
        g.pus.wait(event(d.EV_BOOT, 0, 2, d.RESET_CAUSES.index("POWER_ON")), FAT_BOOT_S, "BOOT after the power cycle")
        g.send("PARAM_GET", d.P_ARM_WINDOW)
        param = g.pus.wait(is_tm("PARAM"), 3, "PARAM")
        assert struct.unpack(">HI", param.data) == (d.P_ARM_WINDOW, 120)
        link.close()


def test_a_burn_gets_its_full_time_after_the_flash_write_that_freezes_the_board_before_it():
    # The FIRING state goes to flash before current flows: a sector erase, the board frozen
    # for it. The burn's time must start with the current, not with the loop's clock.
    with start("--burn-time", "0.6") as s:
        link = s.link()
        g = Ground(link).booted()
        assert g.run("PARAM_SET", d.P_BURN_MAX, 800) == ("COMPLETED", None)
        assert g.run("ARM") == ("COMPLETED", None)
        assert g.run("FIRE", 1, timeout=10) == ("COMPLETED", None)
        burns = s.do("burns")["burns"]
        assert len(burns) == 1 and burns[0]["end"] - burns[0]["start"] >= 0.6
        link.close()


def test_a_long_session_of_pings_and_housekeeping_erases_no_flash_sector(fw):
    s, g = fw
    before = s.do("state")["flash"]["erases"]
    for i in range(200):
        g.send(("PING", "HK_ONE_SHOT", "TIME_REPORT", "PARAM_GET", "SCHED_LIST")[i % 5],
               *((d.HK_SID,) if i % 5 == 1 else (d.P_ARM_WINDOW,) if i % 5 == 3 else ()))
        if i % 20 == 19:
            g.pus.wait(is_tm("PONG"), 3, "PONG")  # keep the link's pace
            g.pus.tms.clear()
    assert s.do("state")["flash"]["erases"] == before


def test_permit_lost_while_armed_disarms_and_says_so(fw):
    s, g = fw
    assert g.run("ARM") == ("COMPLETED", None)
    s.do("set", input="permit", value=False)
    g.pus.wait(event(d.EV_ARM_LOST, 0, d.NO_PERMIT), 2, "ARM_LOST(NO_PERMIT)")
    assert not s.do("state")["outputs"]["arm"]


def test_rbf_inserted_refuses_arm_and_no_current_can_flow(fw):
    s, g = fw
    s.do("set", input="rbf_removed", value=False)
    assert g.run("ARM")[1] == d.RBF_INSERTED
    assert not s.do("state")["outputs"]["arm"]


def test_link_noise_is_counted_and_the_link_recovers(fw):
    s, g = fw
    s.do("inject", fault="noise", flip=0.05, drop=0.02, dup=0.02)
    for _ in range(20):
        g.send("PING")
    s.do("clear", fault="noise")
    g.pus.tms.clear()
    g.send("PING")
    g.pus.wait(is_tm("PONG"), 3, "PONG after the noise")
    assert s.do("state")["link"]["flipped"] > 0


def test_firmware_boots_within_the_board_heap_budget():
    with start() as s:  # the sim's default heap: sim.BOARD_HEAP
        link = s.link()
        Ground(link).booted()
        link.close()
