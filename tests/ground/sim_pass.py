"""A full pass of the payload's telemetry, for tests/ground/test_xtce.py: every packet type, every event.

``sim_pass`` drives the simulated payload (the real firmware under the MicroPython unix
port) through ground.client: about ten seconds, so `make test` runs it live against the
firmware of the day. ``rig_pass`` gets what the sim cannot cause from the same firmware
on the fake board of tests/firmware: a record that fails its check (littlefs's own checks
stop any corruption the sim could make), a flash write that fails, a loop stalled past the
hardware cutoff, and temperature and free heap outside their limits or no temperature at all (the
sim's are fixed); and, not to sign the whole sim pass, the KEY_CHANGED of a board with a key.
Both return the raw telemetry packets in the order the firmware sent them.
"""

import datetime
import os

from firmware import dictionary as d
from firmware import packet
from ground.archive import Archive
from ground.client import Client
from tests.firmware.fakes import Rig
from tests.sim.simproc import Sim

_CDS_EPOCH = datetime.datetime(1958, 1, 1, tzinfo=datetime.UTC)
_FAST = (("BURN_MAX", 500), ("COOLDOWN", 500), ("RETRIES", 1))
_LEAD_S = 5  # a time-tagged command's release time, from now: verification under load fits in it


def _erase_flash(sim, c, state_dir):
    """Blank flash, then a reset: the board formats it, every record is missing.

    Only once the first boot has written its records (it answers a PING after that): a
    firmware still writing would write into the blank image a file system half made.
    """
    c.send("PING")
    image = os.path.join(state_dir, "flash.img")
    with open(image, "r+b") as f:
        f.write(b"\xff" * os.path.getsize(image))
    mark = c.position()
    sim.do("reset")
    c.await_event("SLOT_RESOLVED", timeout=10, since=mark)


def _obt_in(c, seconds):
    """(days, ms) of on-board time ``seconds`` from now, from a TIME report."""
    mark = c.position()
    c.send("TIME_REPORT")
    t = c.await_record(lambda r: r.name == "TIME", timeout=10, since=mark)
    ms = t.values["ms"] + seconds * 1000
    return t.values["days"] + ms // 86_400_000, ms % 86_400_000


def _services(c):
    c.send("PING")
    c.send("HK_ONE_SHOT", d.HK_SID)
    c.send("HK_PERIOD", d.HK_SID, 1000)
    c.send("HK_DISABLE", d.HK_SID)
    c.send("HK_ENABLE", d.HK_SID)
    c.send("TIME_REPORT")
    since = datetime.datetime.now(datetime.UTC) - _CDS_EPOCH
    c.send("TIME_SET", since.days, since.seconds * 1000 + since.microseconds // 1000)
    c.send("TIME_REPORT")
    for p in d.PARAMETERS:
        c.send("PARAM_GET", p.name)
    for name, value in _FAST:
        c.send("PARAM_SET", name, value)
    c.link.write(packet.encode_tc(d.SVC_TEST, 99, seq=c.build("PING").seq))  # no such command: ACCEPT_FAILED
    c.send("FIRE", 1, confirm=True, check=False)  # not armed: START_FAILED and REFUSED


def _releases(sim, c):
    c.send("ARM", confirm=True)
    c.send("FIRE", 1, confirm=True)
    sim.do("inject", fault="open_circuit", slot=2)
    c.send("ARM", confirm=True)
    c.send("FIRE", 2, confirm=True, check=False)  # PROGRESS_FAILED, SLOT_FAILED, COMPLETION_FAILED
    mark = c.position()
    sim.do("inject", fault="early_release", slot=3)
    c.await_event("EARLY_RELEASE", timeout=10, since=mark)
    sim.do("stow", slot=1)
    c.await_event("SWITCH_BOUNCE", timeout=10, since=mark)


def _inhibits(sim, c):
    c.send("ARM", confirm=True)
    mark = c.position()
    sim.do("set", input="permit", value=False)
    c.await_event("ARM_LOST", timeout=10, since=mark)
    sim.do("set", input="permit", value=True)
    c.send("ARM", confirm=True)
    c.send("DISARM")
    c.send("ARM", confirm=True)
    c.send("ABORT")


def _schedule(c):
    mark = c.position()
    c.send("SCHED_INSERT", *_obt_in(c, _LEAD_S), "PING")
    c.send("SCHED_LIST")
    c.await_event("SCHEDULE_RELEASED", timeout=_LEAD_S + 10, since=mark)
    for hours in (1, 2):
        c.send("SCHED_INSERT", *_obt_in(c, 3600 * hours), "TIME_REPORT")
    c.send("SCHED_LIST")
    c.send("SCHED_DISABLE")
    c.send("SCHED_ENABLE")
    c.send("SCHED_RESET")
    c.send("SCHED_LIST")


def _reset_mid_burn(sim, c):
    """A brown-out as slot 4's burn starts: SLOT_UNKNOWN after the reset, until its switch resolves it."""
    sim.do("inject", fault="brownout", at="burn_start")
    mark = c.position()
    c.send("ARM", confirm=True)
    c.submit("FIRE", 4, confirm=True)
    c.await_event("SLOT_RESOLVED", timeout=15, since=mark)
    c.send("SAFE")


def sim_pass(state_dir):
    """The telemetry of one pass of the simulated payload, its flash kept in ``state_dir``."""
    tape = Archive(os.path.join(state_dir, "pass.sqlite"))  # the Client's archive keeps every packet as received
    sim = Sim("--burn-time", "0.2", "--burn-spread", "0", "--state-dir", str(state_dir), app="firmware.app")
    try:
        with sim, Client(sim.ports["link"], archive=tape, timeout=10) as c:
            _erase_flash(sim, c, state_dir)
            _services(c)
            _releases(sim, c)
            _inhibits(sim, c)
            _schedule(c)
            _reset_mid_burn(sim, c)
        return [raw for _t, _direction, raw in tape.frames("TM")]
    finally:
        tape.close()


def rig_pass():
    """What the sim cannot cause, from the same firmware on the fake board."""
    from firmware.tables import CMD_ARM, CMD_FIRE, CMD_HK_ONE_SHOT, CMD_PARAM_SET, P_BURN_MAX

    r = Rig("xtce_pass")
    r.keep_raw = True
    r.run(100)
    r.send(CMD_ARM)
    r.run()
    r.send(CMD_FIRE, 1)
    r.run()
    r.board.advance(5000)  # the loop stalls past BURN_MAX: HW_CUTOFF
    r.run(1000)
    rec = r.board.fs_root + "/params.rec"
    os.remove(rec)
    os.mkdir(rec)  # the record cannot be written: STORAGE_ERROR
    try:
        r.send(CMD_PARAM_SET, P_BURN_MAX, 600)
        r.run()
    finally:
        os.rmdir(rec)  # Rig's fresh_dir removes files only
    with open(rec, "wb") as f:
        f.write(b"short")  # RECORD_CORRUPT at the next boot, once the backup SRAM's copy is gone too
    r.board.temperature = lambda: 900  # 90.0 C, and too little free heap
    r.board.heap_free = lambda: 4096
    r.power_loss()
    r.send(CMD_HK_ONE_SHOT, d.HK_SID)
    r.run()
    r.board.temperature = lambda: -300
    r.reset()
    r.send(CMD_HK_ONE_SHOT, d.HK_SID)
    r.run()
    r.board.temperature = lambda: d.TEMP_INVALID  # the sensor read no number: SENSOR_INVALID
    r.send(CMD_HK_ONE_SHOT, d.HK_SID)
    r.run()
    keyed = Rig("xtce_keys", keys=bytes(range(1, 33)) + bytes(96))  # KEY_CHANGED: the first boot puts key 1 in use
    keyed.keep_raw = True
    keyed.run(100)
    return r.raw + keyed.raw
