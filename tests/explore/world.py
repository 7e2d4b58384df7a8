"""The explorer's world: the real App on a fake board, a plant, a flash in RAM, a clock moved by hand.

One ``World`` holds one live ``firmware.app.App`` (the real modules: Services, Sequencer, State,
Schedule, Switches, Params, Clock, Store, Telemetry) over ``Board``, a subclass of the tests' fake
board (tests/firmware/fakes.py: the board contract, the one-actuator and inhibit checks) whose
switches come from the plant below. ``snapshot``/``restore`` copy only the values that carry
state (``Saver``) in and out of that live App, so a search never deep-copies an application;
``key`` is the abstract state the visited set hashes (see tests/explore/__init__.py); ``apply``
runs one event and one loop iteration and leaves in ``found`` what it broke; ``restart_in`` gives
what a reset or power cut inside one of the event's flash writes leaves, from what ``apply`` took
at that write, without running the event again (tests/test_explore.py checks that both agree).

The plant, per slot: the actuator drives current only while the firmware burns that slot AND
the arm line is on AND RBF is out AND the lander permits (the hardware inhibits in series). A
satellite leaves when the explorer says so (``separate``), during a burn or on its own (an
early release). After a release under current its switch may chatter (``bounce`` toggles the
reading) for up to ``SETTLE_MS``, then reads released for good; an early release reads released
at once (the firmware cannot tell a chatter right after an unexpected release from a satellite
aboard). A stuck switch reads one level forever (the firmware cannot know: only the burn count
is then checked).

Storage, by the firmware's own rules (firmware/store.py): every save goes to the backup SRAM
(``Board.backup``, bytes the firmware's Store reads and writes), a persisted one to flash too.
``Flash`` stands for the FAT filesystem of the stock board (``open``, ``os.rename``,
``os.remove`` are redirected to it by ``flash_in_ram``): a power cut interrupts the n-th flash
write of an event (temp file, remove, rename), and the board restarts; so does a reset there
(a watchdog, a brown-out). A reset keeps the backup SRAM; a power cut loses it (no VBAT: the
case where only what reached the flash survives), so after a reset the records come back from
the backup SRAM and after a power cut from the flash. A reset or a power cut may also come
between two events, where the flash lags the backup SRAM by the records of every command that
is not persisted.
Not modelled here: a cut that loses a whole flash sector (MicroPython's block device erases a
sector before writing it back), which without VBAT loses the records; ``make faults`` cuts there
and reports those runs apart.
"""

import contextlib
import io
import os
import struct

from firmware import auth as fw_auth
from firmware import dictionary as d
from firmware import store as fw_store
from firmware import tables as T
from firmware.app import TICK_MS, App
from firmware.packet import ACK_ALL, TC_HEADER, crc16, encode_tc
from firmware.schedule import _ENTRY
from firmware.sequencer import _MARGIN
from firmware.state import N_RECENT, State
from firmware.verification import RUNNING
from ground import auth as ground_auth
from tests.firmware.fakes import FakeBoard, Rig, garbage, no_collection

SETTLE_MS = T.SWITCH_SETTLE_MS  # the deployer's specification: a switch chatters at most this long after a release
EPOCH_MS = 24800 * 86400000  # ground time at board time 0 (CDS days since 1958: 2025-11)
SCHED_DELAY_MS = 1000  # a time-tagged command is inserted for release this long after now
T0 = 1000  # board time at the first boot
SAFETY_PARAMS = ("ARM_WINDOW", "BURN_MAX", "RETRIES", "COOLDOWN", "DEBOUNCE")
_PARAM_IDS = {p.name: p.id for p in d.PARAMETERS}
_CMD = {c.name: i for i, c in enumerate(d.COMMANDS)}
MEMORY = ("ARM", "FIRE", "SCHED_INSERT")  # telecommands the explorer keeps to send again byte for byte
HAZARDOUS = ("ARM", "FIRE")  # of those, what SCHED_INSERT may nest a copy of (FIRE: the last FIRE or FIRE_SEQUENCE)
RESTARTS = {"power cut": 0, "reset": 1}  # the reset cause of each (0, power on: no VBAT)
# The attacker (a scope with "replay" or "alter"): key 1 in use, the operator signs every command; the attacker
# hears the last packet of each command kind the operator sent and delivers it again byte for byte, or a copy with
# one field changed and its CRC redone (``World._altered``), each alteration but "MAC" under a sequence count (and
# but "sequence count" a counter) the payload has not seen, so that only the MAC can refuse it.
ATTACKS = ("replay", "alter")
ALTERATIONS = ("sequence count", "counter", "argument", "key id", "MAC", "trailer")
KEYS = {1: bytes(range(32)), 2: bytes(range(32, 64))}  # key 1 in use from the first boot; key 2 installed, idle
_AUTH = ">BIH"  # the AUTH record: key bits, newest counter, window (firmware/auth.py)
BACKUP_SIZE = 2048  # the backup SRAM the board contract promises at least (the board has 4 KiB)
_REC_GEN = 4  # a record file: generation u32 | payload | CRC-16 (firmware/store.py)
_PATHS = tuple(("/flash/%s.rec" % r, "/flash/%s.tmp" % r) for r in fw_store.RECORDS[1:])  # by record - 1
_PAYLOADS = {}  # record file content -> its payload if good, else b"" (``World._on_flash``)
_PAYLOADS_MAX = 100000
_BOOTS_MAX = 20000  # about 3 KB each
_NOISE = bytearray(BACKUP_SIZE)
garbage(_NOISE)  # what the backup SRAM holds after a power cut without VBAT

# Deadline codes (their order in ``key`` is the abstract time)
_D_BURN, _D_COOL, _D_WINDOW, _D_CUTOFF, _D_LOOP = 1, 2, 3, 4, 5
_D_DEBOUNCE, _D_SETTLE, _D_SCHEDULE, _D_OFF = 10, 20, 30, 40  # + slot or entry


class PowerCut(BaseException):
    """Raised inside a flash write that a power cut or a reset interrupted (not an OSError: the store
    must not catch it)."""


# --- storage ------------------------------------------------------------------------------

class _Writer:
    def __init__(self, flash, path):
        self._flash = flash
        self._path = path
        self._data = None  # until the first write(), where a cut of this flash write strikes

    def write(self, b):
        if self._data is None:
            self._data = bytearray()
            self._flash.tear(self._path, bytes(b)[:len(b) // 2])
        self._data += b

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        if kind is None:
            self._flash.files[self._path] = bytes(self._data)
        return False


class Flash:
    """The record files in RAM, as the board's FAT keeps them: a rename does not replace a file,
    so firmware/store.py writes a temp file, removes the record, renames the temp. Each of the
    three is a flash write; ``cut_at`` = n: the power goes during the n-th write of this event
    (a temp file torn half-way, or the remove or the rename not done)."""

    def __init__(self):
        self.files = {}
        self.writes = 0
        self.cut_at = 0
        self.on_write = None  # called at each write where a cut would strike, the files as it would leave them

    def open(self, path, mode="rb"):
        if "w" in mode:
            self._write(path, cut=False)  # the temp file is torn by its first write()
            return _Writer(self, path)
        if path not in self.files:
            raise OSError(2, "no such file")
        return io.BytesIO(self.files[path])

    def tear(self, path, torn):
        """A temp file's first bytes go to flash: a cut now leaves it ``torn``."""
        if self.writes == self.cut_at or self.on_write:
            old = self.files.get(path)
            self.files[path] = torn
            if self.writes == self.cut_at:
                raise PowerCut()
            self.on_write()
            if old is None:
                del self.files[path]
            else:
                self.files[path] = old

    def rename(self, src, dst):
        if dst in self.files:
            raise OSError(17, "file exists")
        self._write(dst)
        self.files[dst] = self.files.pop(src)

    def remove(self, path):
        if path not in self.files:
            raise OSError(2, "no such file")
        self._write(path)
        del self.files[path]

    def _write(self, path, cut=True):
        self.writes += 1
        if cut and self.writes == self.cut_at:
            raise PowerCut()
        if cut and self.on_write:
            self.on_write()


@contextlib.contextmanager
def flash_in_ram():
    """A Flash that firmware/store.py's file calls go to for the duration."""
    flash = Flash()
    fw_store.open = fw_auth.open = flash.open  # auth: the keys file
    fw_store.os = flash
    try:
        yield flash
    finally:
        del fw_store.open, fw_auth.open
        fw_store.os = os


# --- the board and the plant -----------------------------------------------------------------

class Board(FakeBoard):
    """The fake board of the firmware tests, its switches and current from the plant state, FAT's
    record writes (temp file, remove, rename) and a backup SRAM of its own."""

    fs_atomic = False

    def __init__(self, world):
        super().__init__("/flash", T0)
        self.backup = bytearray(BACKUP_SIZE)  # copied by every snapshot: only the contract's size
        self.world = world
        self.uart.capture = False
        self.max_at_start = 0  # BURN_MAX when the actuator went on

    def switch(self, slot):
        return self.world.reading(slot)

    def burn(self, slot, max_ms):
        super().burn(slot, max_ms)
        self.max_at_start = self.world.app.params.get(T.P_BURN_MAX)
        if max_ms > self.max_at_start:
            self.violations.append("burn of slot %d armed its cutoff at %d ms, BURN_MAX %d" % (
                slot + 1, max_ms, self.max_at_start))
        self.world.current()

    def cut(self):
        if self.on >= 0 and self.t - self.start > self.max_at_start:
            self.violations.append("slot %d on for %d ms, BURN_MAX %d" % (
                self.on + 1, self.t - self.start, self.max_at_start))
        self.on = -1
        self.world.current()

    def set_arm(self, on):
        super().set_arm(on)
        self.world.current()

    def power_cycle(self, cause, keep_backup=True):
        super().power_cycle(cause)
        if not keep_backup:  # one draw of noise for every power cut: lost is what matters, not which noise
            self.backup[:] = _NOISE

    def advance(self, ms):
        end = self.t + ms
        if self.on >= 0 and self.start + self.max_ms <= end:  # the one-shot hardware cutoff
            self.t = self.start + self.max_ms
            self.cut()
        self.t = end


# --- events -----------------------------------------------------------------------------------

def label(event):
    """An event as the operator would say it: ``("PARAM_SET", "COOLDOWN", 500)`` -> PARAM_SET COOLDOWN 500."""
    if len(event) == 3 and event[0] in RESTARTS:
        return "%s [%s in flash write %d]" % (label(event[2]), event[0], event[1])
    if event[0] == "alter":
        return "alter the %s of %s" % (event[2], event[1])
    return " ".join(label(e) if isinstance(e, tuple) else str(e) for e in event)


class Bounds:
    """What an exploration may do: which events, slots and values, how many faults per path."""

    def __init__(self, name, kinds, slots=2, values=None, depth=12, resets=1, faults=1, bounces=2, in_writes=True):
        self.name = name
        self.kinds = frozenset(kinds)  # event kinds tried (the first word of an event)
        self.in_writes = in_writes  # resets and power cuts also inside each flash write of an event
        self.slots = slots  # slots the events name (FIRE, separation, faults); the others stay aboard
        self.values = VALUES if values is None else values  # PARAM_SET values per safety parameter
        self.depth = depth
        self.resets = resets  # resets and power cuts per path
        self.faults = faults  # stuck switches, early releases and arm-line faults per path
        self.bounces = bounces  # switch chatters per release

    def __repr__(self):
        return "Bounds(%s)" % ", ".join("%s=%r" % kv for kv in vars(self).items())


# Each safety parameter at its range ends and its default (an interior value).
VALUES = {p.name: (p.lo, p.default, p.hi) for p in d.PARAMETERS if p.name in SAFETY_PARAMS}
KINDS = ("ARM", "DISARM", "ABORT", "SAFE", "FIRE", "FIRE_SEQUENCE", "TIME_SET", "SCHED_ENABLE", "SCHED_DISABLE",
         "SCHED_INSERT", "PARAM_SET", "resend", "PING", "RBF", "permit", "separate", "bounce", "stuck", "arm line",
         "advance", "approach", "reset", "power cut")


def alphabet(bounds):
    """Every event the exploration may try, in a fixed order (traces name them)."""
    slots = range(1, bounds.slots + 1)
    mask = (1 << bounds.slots) - 1
    events = [("ARM",), ("DISARM",), ("ABORT",), ("SAFE",)] + [("FIRE", s) for s in slots]
    events += [("FIRE_SEQUENCE", mask, 0), ("FIRE_SEQUENCE", mask, 1), ("TIME_SET",), ("SCHED_ENABLE",),
               ("SCHED_DISABLE",), ("SCHED_INSERT", ("ARM",))]
    events += [("SCHED_INSERT", ("FIRE", s)) for s in slots]
    events += [("SCHED_INSERT", ("resend", k)) for k in HAZARDOUS]  # a byte-identical copy of an earlier one
    events += [("PARAM_SET", p, v) for p in SAFETY_PARAMS for v in bounds.values.get(p, ())]
    events += [("resend", m) for m in MEMORY] + [("PING", N_RECENT)]
    events += [("RBF", "in"), ("RBF", "out"), ("permit", "off"), ("permit", "on")]
    events += [("separate", s) for s in slots] + [("bounce", s) for s in slots]
    events += [("stuck", s, v) for s in slots for v in ("stowed", "released")] + [("arm line", "fault")]
    events += [("advance",), ("approach",), ("reset",), ("power cut",)]
    heard = heard_kinds(bounds)
    events += [("replay", k) for k in heard] + [("alter", k, a) for k in heard for a in ALTERATIONS]
    return [e for e in events if e[0] in bounds.kinds]


def heard_kinds(bounds):
    """The command kinds whose last packet the attacker keeps (none in a scope without an attacker): not
    PING, whose bursts only push request ids out of the record, nor ABORT and SAFE, which anyone may send."""
    if not bounds.kinds & set(ATTACKS):
        return ()
    return tuple(k for k in _CMD if k in bounds.kinds and k not in ("PING", "ABORT", "SAFE"))


# --- the world --------------------------------------------------------------------------------

class World:
    """One live App, its board, plant and flash, and what the explorer remembers of the path."""

    def __init__(self, bounds, flash):
        self.bounds = bounds
        self.flash = flash
        self.board = Board(self)
        self.events = alphabet(bounds)
        self._tc_events = {e for e in self.events if e[0] in _CMD or e[0] in ("resend",) + ATTACKS}
        self._heard = heard_kinds(bounds)
        if self._heard:  # the keys file, as `make flash KEYS=` installs it
            flash.files["/flash/keys"] = ground_auth.blob(KEYS)
        # what was sent before matters only to an exploration that can send it again
        self._resends = bool(bounds.kinds & {"resend", "SCHED_INSERT"})
        # plant: separated, switch reading while it settles, settle end, stuck level (None: works)
        n = T.N_SLOTS
        self.separated = [False] * n  # False, or how it left: "during a burn", "on its own"
        self._reading = [False] * n
        self.settle_end = [0] * n
        self.stuck = [None] * n
        self.bounces = [0] * n
        self.burns = [0] * n  # current intervals per slot, over every boot
        self.flowing = -1  # slot with current now
        # the path: TC sequence counter, remembered TCs (kind -> (event, seq, packet)), executed ids
        self.seq = 0
        self.memory = {}
        self.count = 0  # the operator's signing counter
        self.heard = {}  # what the attacker heard: kind -> (event, seq, counter, packet)
        self.executed = {}  # request id -> "link" or "schedule": what ran it first
        self.fired = 0  # slots named by a FIRE or FIRE_SEQUENCE that ran since boot
        self.released = 0  # slots the firmware reported RELEASED
        self.resets = self.faults = 0
        self.found = []  # violations of the last event
        self._running = []  # (request id, via) run in the step under way
        self._via = "link"
        self.app = None
        self._boot()
        self._saver = Saver(self.app)
        self._boots = {}  # what a boot read -> what it left (``_boot_and_step``)
        self._scratch = State(None, None)  # reads a state record found on flash
        self.step()
        self.settle()

    # --- plant -----------------------------------------------------------------------------
    def reading(self, s):
        """The raw separation switch of slot ``s`` now (True: reads released)."""
        if self.stuck[s] is not None:
            return self.stuck[s]
        if not self.separated[s]:
            return False
        return self._reading[s] if self.board.t < self.settle_end[s] else True

    def current(self):
        """Note a change of current flow (called whenever an output or an input changes)."""
        b = self.board
        s = b.on if b.on >= 0 and b.rbf and b.perm and b.arm_line() else -1
        if s == self.flowing:
            return
        self.flowing = s
        if s < 0:
            return
        self.burns[s] += 1
        if self.separated[s] and self.stuck[s] is None:
            why = "a retry of the same command" if self.app.seq._burns > 1 else "a new command"
            self.found.append("current in slot %d after its satellite left %s (switch working): %s" % (
                s + 1, self.separated[s], why))
        retries = self.app.params.get(T.P_RETRIES) if self.app else 0
        if self.burns[s] > 1 + retries:
            self.found.append("slot %d burned %d times, RETRIES %d" % (s + 1, self.burns[s], retries))
        if not self.fired & (1 << s):
            self.found.append("current in slot %d, which no FIRE since boot named" % (s + 1))

    # --- the firmware ---------------------------------------------------------------------------
    def _boot(self):
        self.app = App(self.board)
        services = self.app.services
        run = services._run

        def counted(i, buf, tc, args):  # every request id handed to a handler: "executed"
            self._executed(tc.request_id, i)
            code = run(i, buf, tc, args)
            if code == RUNNING:  # a FIRE or FIRE_SEQUENCE that passed every inhibit
                self.fired |= 1 << (args[0] - 1) if i == T.CMD_FIRE else args[0]
            return code

        services._run = counted
        self.app.tm.send = _unsent  # reports are built (packed) but not framed: nobody reads them
        # Housekeeping collects the heap for its heap figure (at most once a second): here that is
        # CPython's whole heap, the search's visited states included, for a figure no decision
        # depends on (housekeeping is not state: Saver.SKIP). It made the search 4 times slower.
        self.app.hk.collect = no_collection
        self.fired = 0

    def _executed(self, rid, i):
        if self._via.startswith("attacker") and not self.app.verification._open:
            self.found.append("the %s ran %s (request id 0x%08X)" % (self._via, d.COMMANDS[i].name, rid))
        if self.app.verification._open:
            return  # ABORT or SAFE with a key in use: unrecorded, any copy runs again (it only makes the payload safer)
        if rid in self.executed:
            self.found.append("request id 0x%08X (%s) executed twice: first from the %s, now from the %s" % (
                rid, d.COMMANDS[i].name, self.executed[rid], self._via))
        if i != T.CMD_PING:
            self._running.append((rid, self._via))

    def step(self):
        self._via = "schedule"  # what runs inside the loop (not from _receive) was released by the schedule
        self.app.step()
        self._commit(self._running)

    def _commit(self, ran):
        """These request ids ran and the step that ran them is over: they must never run again."""
        if ran:
            self.executed = dict(self.executed)
            self.executed.update(ran)
            self._running = []

    def settle(self):
        """From the first boot, let time pass until nothing is pending (slots resolved STOWED)."""
        while self.deadlines():
            self.apply(("advance",))
        assert not self.found and not self.board.violations, (self.found, self.board.violations)

    # --- events ---------------------------------------------------------------------------------
    def enabled(self, event):
        """False for an event that cannot happen here (it would leave the state as it is)."""
        kind = event[0]
        b = self.board
        if kind == "RBF":
            return b.rbf == (event[1] == "in")
        if kind == "permit":
            return b.perm == (event[1] == "off")
        if kind == "separate":
            s = event[1] - 1
            return not self.separated[s] and (self.flowing == s or self.faults < self.bounds.faults)
        if kind == "bounce":
            s = event[1] - 1
            return (self.separated[s] and b.t < self.settle_end[s] and self.stuck[s] is None
                    and self.bounces[s] < self.bounds.bounces)
        if kind in ("stuck", "arm line"):
            return self.faults < self.bounds.faults and (kind == "arm line" or self.stuck[event[1] - 1] is None)
        if kind == "advance":
            return bool(self.deadlines())
        if kind == "approach":
            d = self._next()
            return d is not None and d - 1 > b.t
        if kind in RESTARTS:
            return self.resets < self.bounds.resets
        if kind == "resend":
            return event[1] in self.memory
        if kind in ATTACKS:
            return event[1] in self.heard
        if kind == "PING":  # only while it can push a remembered request id out of the record
            st = self.app.state
            return any(st.outcome(_rid(m[2])) >= 0 or not st.stale(m[1]) for m in self.memory.values())
        if kind == "PARAM_SET":
            return self.app.params.get(_PARAM_IDS[event[1]]) != event[2]
        if kind == "SCHED_INSERT" and event[1][0] == "resend":
            return event[1][1] in self.memory
        return True

    def apply(self, event, points=None):
        """Run ``event`` then one loop iteration; a power cut or a reset in its n-th flash write
        (``("power cut", n, event)``, ``("reset", n, event)``) reboots instead.

        ``points``: a list that gets, per flash write of the event, what a power cut and what a
        reset there would leave (``restart_point``: equal ones reboot alike) and what ``restart_in``
        needs to restart there without running the event again.
        """
        self.found = []
        self.board.violations = []
        self.flash.writes = 0
        self._running = []
        self.flash.on_write = None if points is None else lambda: points.append((self.restart_point(), self._cut()))
        if len(event) == 3 and event[0] in RESTARTS:
            self.flash.cut_at = event[1]
            try:
                self._do(event[2])
            except PowerCut:
                self.flash.cut_at = 0
                self._restart_in_write(RESTARTS[event[0]])
                return
            self.flash.cut_at = 0
            self.found.append("no flash write %d in %s" % (event[1], label(event[2])))
            return
        self._do(event)

    def restart_in(self, event, cut):
        """``apply(event)`` (a reset or a power cut in a flash write) from ``cut``, what that write's
        ``points`` entry took as the write began: what is left when the event is cut there."""
        board, plant, files, path, backup, running, found, violations = cut
        self._restore_world(board, plant, files, path)
        self.board.backup[:] = backup
        self._running = list(running)
        self.found = list(found)
        self.board.violations = list(violations)
        self.flash.on_write = None
        self._restart_in_write(RESTARTS[event[0]])

    def _cut(self):
        """What a cut of the flash write under way leaves in the world but the App (see ``restart_in``)."""
        return (self._board_values(), self._plant(), dict(self.flash.files), self._path(), bytes(self.board.backup),
                tuple(self._running), tuple(self.found), tuple(self.board.violations))

    def _restart_in_write(self, cause):
        ran = self._running
        self._running = []
        self._restart(cause)
        # the cut undid the step: what ran in it counts only if its record reached the flash
        self._commit([r for r in ran if self.app.state.outcome(r[0]) >= 0])

    def _do(self, event):
        kind = event[0]
        b = self.board
        if event in self._tc_events:
            self._send(event)
        elif kind == "RBF":
            b.rbf = event[1] == "out"
        elif kind == "permit":
            b.perm = event[1] == "on"
        elif kind == "separate":
            s = event[1] - 1
            self.separated[s] = "during a burn" if self.flowing == s else "on its own"
            if self.flowing == s:
                self._reading[s] = True
                self.settle_end[s] = b.t + SETTLE_MS
            else:
                self.faults += 1
                self.settle_end[s] = b.t
        elif kind == "bounce":
            s = event[1] - 1
            self._reading[s] = not self._reading[s]
            self.bounces[s] += 1
        elif kind == "stuck":
            self.stuck[event[1] - 1] = event[2] == "released"
            self.faults += 1
        elif kind == "arm line":
            b.arm_fault = True
            self.faults += 1
        elif kind == "advance":
            d = self._next()
            b.advance(max(d, b.t + 1) - b.t)
        elif kind == "approach":
            b.advance(self._next() - 1 - b.t)
        elif kind in RESTARTS:
            self._restart(RESTARTS[kind])
            return
        self.current()
        self.step()
        self._check()

    def restart_point(self):
        """{kind: what a restart of that kind now leaves for the next boot}; equal points reboot to
        equal states. Both: the plant, and per record what a boot from the flash alone would load
        (its payload, or None: ``_on_flash``), which is all the flash decides (the generations and
        a torn temp file beside a good record do not). A power cut: the request ids run so far
        that the state record on flash holds. A reset: the backup SRAM too, whose records are
        always RAM's (every save writes it first), and every request id run so far (recorded there
        before it acted)."""
        b = self.board
        a = self.app
        bufs = (a.state._buf, a.params._buf, a.schedule._buf, a.auth._buf)
        views = tuple(self._on_flash(i, len(buf)) for i, buf in reversed(tuple(enumerate(bufs))))
        ran = tuple(r for r in self._running if views[-1] is not None and self._scratch.outcome(r[0]) >= 0)
        plant = (b.t, b.on, b.rbf, b.perm, b.arm_line(), self.flowing, tuple(self.separated), tuple(self.burns),
                 tuple(self._reading))
        return {"power cut": (views, ran, plant),
                "reset": (views, tuple(bytes(buf) for buf in bufs), tuple(self._running), plant)}

    def _restart(self, cause):
        """Reset or power cut (cause 0, power on: no VBAT, the backup SRAM is lost): outputs off at
        once, then a boot and its first loop iteration."""
        self.resets += 1
        if cause == RESTARTS["power cut"]:  # the backup SRAM is lost: the firmware knows what the flash holds
            self.released = self._released_on_flash()
        self.board.power_cycle(cause, keep_backup=cause != 0)
        self.current()
        self._boot_and_step()
        a = self.app
        if a.seq.state != T.SAFE or self.board.on >= 0 or self.board.arm_out:
            self.found.append("after a reset: state %d, actuator %d, arm line %s" % (
                a.seq.state, self.board.on, self.board.arm_out))
        self._check()

    def _boot_and_step(self):
        """A boot and its first loop iteration. What they leave in the App, the backup SRAM and the
        flash follows from what they read: both memories, the board's time, inputs and reset cause,
        and the switches. So a boot that reads what an earlier one read takes the values that one
        left (``_boots``: the restarts inside flash writes repeat the same few boots from many
        states), unless restart points are being taken in its flash writes (``apply``) or the
        first boot acted on the world (ran a command, drove an output, broke an invariant)."""
        b = self.board
        flash = self.flash
        key = None
        if flash.on_write is None:
            key = (bytes(b.backup), frozenset(flash.files.items()), b.t, b.cause, b.rbf, b.perm, b.arm_fault,
                   tuple(self.reading(s) for s in range(T.N_SLOTS)))
            hit = self._boots.get(key)
            if hit is not None:
                self._saver.restore(self.app, hit[0])
                flash.files = dict(hit[1])
                self.fired = 0
                return
        before = (self._board_values(), self.executed, len(self.found), self.flowing)
        self._boot()
        self.step()
        if key is not None and before == (self._board_values(), self.executed, len(self.found), self.flowing) \
                and not b.violations:
            if len(self._boots) >= _BOOTS_MAX:
                self._boots.clear()
            self._boots[key] = (self._saver.save(self.app), dict(flash.files))

    def _released_on_flash(self):
        """The slots the state record on flash holds RELEASED. A RELEASED not there yet (queued behind
        a burn: no flash write while an actuator is on) dies with the backup SRAM in a power cut; the
        slot's switch resolves it again, and no current flows in it meanwhile (``current``)."""
        if self._on_flash(0, len(self.app.state._buf)) is None:
            return 0
        return sum(1 << s for s in range(T.N_SLOTS) if self._scratch.slots[s] == T.RELEASED)

    def _check(self):
        a = self.app
        b = self.board
        self.found += b.violations
        if b.on >= 0 and not (b.rbf and b.perm and b.arm_line()):
            self.found.append("actuator %d still on with an inhibit missing after a loop iteration" % (b.on + 1))
        for s in range(T.N_SLOTS):
            if a.state.slots[s] == T.RELEASED:
                self.released |= 1 << s
            elif self.released & (1 << s):
                self.found.append("slot %d was RELEASED, now %s" % (s + 1, d.SLOT_STATES[a.state.slots[s]]))

    # --- telecommands ---------------------------------------------------------------------------
    def _tc(self, event, top=True):
        """A new packet for ``event`` (a TC event), with the next sequence count; signed (the next
        counter) if ``top`` (not nested) and a key is in use."""
        name = event[0]
        tail = b""
        if name == "PARAM_SET":
            args = (_PARAM_IDS[event[1]], event[2])
        elif name == "TIME_SET":
            args = divmod(EPOCH_MS + self.board.t, 86400000)
        elif name == "SCHED_INSERT":
            nested = event[1]
            tail = self.memory[nested[1]][2] if nested[0] == "resend" else self._tc(nested, False)
            args = divmod(EPOCH_MS + self.board.t + SCHED_DELAY_MS, 86400000)
        else:
            args = event[1:]
        packet = Rig.tc(self, _CMD[name], *args)  # the firmware tests' encoder; counts self.seq on
        if tail:  # the nested TC follows the release time
            packet = encode_tc(packet[7], packet[8], packet[TC_HEADER:-2] + tail, seq=self.seq, ack=ACK_ALL)
        if top:
            packet = self._signed(packet)
        kind = "FIRE" if name == "FIRE_SEQUENCE" else name
        if kind in MEMORY:
            self.memory[kind] = (event, self.seq, packet)
        return packet

    def _signed(self, packet):
        if not self._heard:
            return packet
        self.count += 1
        return ground_auth.sign(packet, 1, KEYS[1], self.count)

    def _send(self, event):
        if event[0] == "resend":
            self._receive(self.memory[event[1]][2])
        elif event[0] == "PING":
            for _ in range(event[1]):  # no success reports: nobody reads them
                self._operator(lambda: self._signed(Rig.tc(self, T.CMD_PING, ack=0)))
        elif event[0] in ATTACKS:
            self._attack(event)
        else:
            packet = self._operator(lambda: self._tc(event))
            if event[0] in self._heard:
                self.heard = dict(self.heard)
                self.heard[event[0]] = (event, self.seq, self.count, packet)

    def _operator(self, make):
        """Send the packet ``make()`` builds. One refused AUTH_REPLAY (after a power cut without VBAT
        the payload's counter goes on from its lease) is signed a lease further on and sent again, as
        the ground's client does (ground/client.py); the packet that went last."""
        packet = make()
        self._receive(packet)
        auth = self.app.auth
        if auth.key and auth.stale:  # judged a replay: a new command's sequence count is never STALE here
            self.count += d.KEY_LEASE
            packet = make()
            self._receive(packet)
        return packet

    def _attack(self, event):
        packet = self.heard[event[1]][3]
        if event[0] == "alter":
            packet = self._altered(packet, event[2])
        self._receive(packet, "attacker's " + ("replay of %s" % event[1] if event[0] == "replay" else
                                               "copy of %s with its %s changed" % (event[1], event[2])))

    def _altered(self, packet, what):
        """``packet`` (signed) with ``what`` changed (ALTERATIONS) and its CRC redone."""
        p = bytearray(packet[:-2])
        n = len(p) - T.TRAILER_LEN  # the trailer: key id, counter u32, MAC
        if what != "MAC":  # a sequence count the payload has not seen: not DUPLICATE, not STALE
            struct.pack_into(">H", p, 2, 0xC000 | (self.seq + 1) & 0x3FFF)
        if what in ("counter", "argument", "key id"):  # a fresh counter: not AUTH_REPLAY
            struct.pack_into(">I", p, n + 1, self.count + 1)
        if what == "argument":  # the last byte of the application data (ARM: its function id)
            p[n - 1] = (p[n - 1] + 1) & 0xFF
        elif what == "key id":
            p[n] = 2
        elif what == "MAC":
            p[-1] ^= 1
        elif what == "trailer":  # removed: an unsigned command
            del p[n:]
            struct.pack_into(">H", p, 4, len(p) + 2 - 7)
        return bytes(p) + struct.pack(">H", crc16(p, len(p)))

    def _receive(self, packet, via="link"):
        self._via = via
        buf = bytearray(packet)
        self.app.services.on_packet(buf, len(buf))

    # --- time -----------------------------------------------------------------------------------
    def deadlines(self):
        """(board time, code) of everything that will happen by itself: the firmware's timers,
        the hardware cutoff, the end of a switch's chatter. Those the loop would not act on now
        (a schedule while time is not correlated) are left out."""
        a = self.app
        seq = a.seq
        p = a.params
        b = self.board
        now = b.t
        out = []
        if seq.state == T.FIRING:
            out.append((seq._t0 + p.get(T.P_BURN_MAX) - _MARGIN, _D_BURN))
        elif seq.state == T.COOLDOWN and seq._t0 + seq._wait > now:
            out.append((seq._t0 + seq._wait, _D_COOL))
        if seq.state == T.ARMED and seq._pending:  # a released FIRE: its burn starts next iteration
            out.append((now + TICK_MS, _D_LOOP))
        elif seq.state == T.ARMED:
            out.append((seq._armed_at + p.get(T.P_ARM_WINDOW) * 1000, _D_WINDOW))
        if b.on >= 0:
            out.append((b.start + b.max_ms, _D_CUTOFF))
        sw = a.switches
        hold = p.get(T.P_DEBOUNCE)
        for s in range(T.N_SLOTS):
            if sw._raw[s] != sw.level[s]:
                out.append((sw._since[s] + hold, _D_DEBOUNCE + s))
            if sw._off[s] + SETTLE_MS > now:  # until then the firmware does not trust the switch
                out.append((sw._off[s] + SETTLE_MS, _D_OFF + s))
            if self.separated[s] and self.settle_end[s] > now:
                out.append((self.settle_end[s], _D_SETTLE + s))
        sch = a.schedule
        if sch.enabled and a.clock.correlated:
            for i in range(T.SCHEDULE_SIZE):
                if sch._buf[1 + i * _ENTRY]:
                    _n, days, ms, _rid = sch.entry(i)
                    out.append((self._schedule_time(days, ms), _D_SCHEDULE + i))
        return out

    def _schedule_time(self, days, ms):
        c = self.app.clock
        return self.board.t + (days - c.days) * 86400000 + ms - c.ms

    def _next(self):
        dl = self.deadlines()
        return min(t for t, _ in dl) if dl else None

    # --- save, restore, abstract ------------------------------------------------------------------
    def _board_values(self):
        b = self.board
        return (b.t, b._wire_x16, b.on, b.start, b.max_ms, b.max_at_start, b.arm_out, b.arm_fault, b.rbf, b.perm,
                b.cause)  # _wire_x16: the UART's blocked time not yet a whole ms (fakes.FakeBoard.wire)

    def _plant(self):
        return (tuple(self.separated), tuple(self._reading), tuple(self.settle_end), tuple(self.stuck),
                tuple(self.bounces), tuple(self.burns), self.flowing)

    def _path(self):
        return (self.seq, dict(self.memory), self.executed, self.fired, self.released, self.resets, self.faults,
                self.count, self.heard)

    def snapshot(self):
        return self._saver.save(self.app), self._board_values(), self._plant(), dict(self.flash.files), self._path()

    def restore(self, snap):
        fw, board, plant, files, path = snap
        self._saver.restore(self.app, fw)
        self._restore_world(board, plant, files, path)

    def _restore_world(self, board, plant, files, path):
        b = self.board
        (b.t, b._wire_x16, b.on, b.start, b.max_ms, b.max_at_start, b.arm_out, b.arm_fault, b.rbf, b.perm,
         b.cause) = board
        (sep, reading, settle, stuck, bounces, burns, self.flowing) = plant
        self.separated[:] = sep
        self._reading[:] = reading
        self.settle_end[:] = settle
        self.stuck[:] = stuck
        self.bounces[:] = bounces
        self.burns[:] = burns
        self.flash.files = dict(files)
        (self.seq, memory, self.executed, self.fired, self.released, self.resets, self.faults, self.count,
         self.heard) = path
        self.memory = dict(memory)

    def key(self):
        """The abstract state: see tests/explore/__init__.py for what is in it and what is not."""
        a = self.app
        seq = a.seq
        sw = a.switches
        st = a.state
        b = self.board
        now = b.t
        running = a.verification.running()
        rids = {}
        memory = []
        for i, kind in enumerate(MEMORY if self._resends else ()):
            m = self.memory.get(kind)
            if m is None:
                memory.append(None)
                continue
            rid = _rid(m[2])
            rids[rid] = i + 1
            memory.append((m[0], rid in self.executed, st.outcome(rid), st.stale(m[1])))
        # time: the pending deadlines in order, equal ones together, the past apart
        dl = sorted(self.deadlines() + ([(seq._armed_at + a.params.get(T.P_ARM_WINDOW) * 1000, _D_WINDOW)]
                                        if seq.state in (T.FIRING, T.COOLDOWN) else []))
        order = []
        last = None
        for t, code in dl:
            if t <= now:
                order.append(-code)
            elif t == last:
                order[-1] = (order[-1], code) if isinstance(order[-1], int) else order[-1] + (code,)
            else:
                order.append(code)
            last = t
        first = next((t for t, _ in dl if t > now), None)
        sch = a.schedule
        entries = []
        for i in range(T.SCHEDULE_SIZE):
            if not sch._buf[1 + i * _ENTRY]:
                continue
            n, _days, _ms, rid = sch.entry(i)
            if n:  # which remembered TC it is, else what it is (service, subtype, data)
                tc = sch._buf[1 + i * _ENTRY + 7:][:n]
                what = rids.get(rid) or (tc[7], tc[8], bytes(tc[TC_HEADER:n - 2]))
                entries.append((i, what, rid in self.executed))
        return (
            seq.state, seq.slot, seq._pending, seq._unreleased, seq._spacing, seq._done, seq.arm_on,
            rids.get(running, 9 if running else 0),
            tuple(sw.level), tuple(sw._raw), seq.judged,
            bytes(st.slots), bytes(st.attempts),
            tuple(a.params.values[:5]),
            sch.enabled, a.clock.correlated, tuple(entries),
            b.on, b.arm_out, b.arm_fault, b.rbf, b.perm,
            tuple(self.separated), tuple(self._reading), tuple(self.stuck), tuple(self.bounces),
            tuple(self.burns), self.flowing, self.released, self.fired,
            tuple(memory), self.resets, self.faults,
            tuple(order), first is not None and first - now == 1,
            self._flash_key(memory), self._auth_key(),
        )

    def _auth_key(self):
        """With an attacker: whether the operator's next counter writes a lease; and, per packet the
        attacker heard, whether its request id ran, its recorded outcome, whether its sequence count
        is stale, and whether its counter is judged a replay now and after a power cut (from the AUTH
        record on flash). The operator's next counter, judged after a power cut. Not the counters."""
        if not self._heard:
            return ()
        auth = self.app.auth
        st = self.app.state
        payload = self._on_flash(3, len(auth._buf))
        cut = struct.unpack(_AUTH, payload)[1:] if payload else None
        out = [self.count + 1 >= auth._lease, cut and _replayed(*cut, self.count + 1)]
        for k in self._heard:
            h = self.heard.get(k)
            rid = h and _rid(h[3])
            out.append(h and (h[0], rid in self.executed, st.outcome(rid), st.stale(h[1]),
                              _replayed(auth.newest, auth.window, h[2]), cut and _replayed(*cut, h[2])))
        return tuple(out)

    def _on_flash(self, i, n):
        """The payload of record ``i`` (0 state, 1 params, 2 schedule; ``n`` bytes) that a boot from
        the flash alone would load (a good record file, else a good temp file), or None."""
        files = self.flash.files
        for path in _PATHS[i]:
            data = files.get(path)
            if data is None:
                continue
            payload = _PAYLOADS.get(data)
            if payload is None:  # each file content is checked once: key and restart_point ask often
                if len(_PAYLOADS) > _PAYLOADS_MAX:
                    _PAYLOADS.clear()
                good = len(data) == _REC_GEN + n + 2 and not crc16(data, len(data))
                payload = _PAYLOADS[data] = data[_REC_GEN:-2] if good else b""
            if payload:
                if i == 0:
                    self._scratch._buf[:] = payload
                return payload
        return None

    def _flash_key(self, memory):
        """What a power cut would boot into where it differs from RAM (between persisted saves the
        state record on flash lags behind), and the records queued for the flash. The backup SRAM
        is not in it: every save writes it before anything else, so it always equals RAM."""
        a = self.app
        out = [a.store.pending]
        for i, buf in enumerate((a.state._buf, a.params._buf, a.schedule._buf)):
            payload = self._on_flash(i, len(buf))
            if payload == buf:
                continue
            if i or payload is None:
                out.append((i, payload))
                continue
            sc = self._scratch  # the state record as the firmware reads it, abstracted as in ``key``
            view = (bytes(sc.slots), bytes(sc.attempts),
                    tuple(m and (sc.outcome(_rid(self.memory[k][2])), sc.stale(self.memory[k][1]))
                          for k, m in zip(MEMORY, memory, strict=False)),  # memory: empty without resends
                    tuple((sc.outcome(_rid(h[3])), sc.stale(h[1])) for h in self.heard.values()))
            if view != (bytes(a.state.slots), bytes(a.state.attempts), tuple(m and m[2:] for m in memory),
                        tuple((a.state.outcome(_rid(h[3])), a.state.stale(h[1])) for h in self.heard.values())):
                out.append(view)
        return tuple(out)


def _unsent(tm, n):
    pass


def _rid(packet):
    return struct.unpack_from(">I", packet)[0]


def _replayed(newest, window, count):
    """Whether firmware/auth.py (Auth.check) judges ``count`` a replay, given its ``newest`` and ``window``."""
    behind = newest - count
    return behind >= 16 or behind >= 0 and bool(window >> behind & 1)


class Saver:
    """Copies the value fields of every firmware object of an App out and back in.

    Found once from a live App: every attribute holding an int, bool, None, str, bytes or
    tuple, and every list or bytearray (copied; restored in place, so memoryviews into them
    stay valid). Collaborators, views and bound methods are not state. Scratch buffers that
    every use rewrites first (telemetry and deframer buffers, parsed TC headers, counters only
    housekeeping reports) are left out: they make no decision.
    """

    SKIP = {"tm", "deframer", "hk", "board", "_on_packet", "_rx", "reset_cause"}
    SKIP_ATTRS = {"services": {"tc", "_inner", "_release", "_args"},
                  "verification": {"accepted", "rejected", "_data"},
                  "auth": {"rejected", "_pad", "_keys"},
                  "clock": {"uptime_s", "_uptime_ms"},
                  "store": {"_bufs", "_head", "_gen_head", "_tail"}}  # the records' owners hold _bufs

    def __init__(self, app):
        self.plan = []
        for name, obj in vars(app).items():
            if name in self.SKIP or not hasattr(obj, "__dict__"):
                continue
            fields = []
            for attr, value in vars(obj).items():
                if attr in self.SKIP_ATTRS.get(name, ()):
                    continue
                if isinstance(value, bytearray):
                    fields.append((attr, "bytes"))
                elif isinstance(value, list):
                    fields.append((attr, "list"))
                elif value is None or isinstance(value, (int, str, bytes, tuple)):
                    fields.append((attr, ""))
            self.plan.append((name, tuple(fields)))
        self._compile()

    def _compile(self):
        """``save(app)`` and ``restore(app, values)`` as straight-line code for the plan (a loop over
        the plan costs twice as much)."""
        save, restore = [], []
        for i, (attr, inplace, path) in enumerate((a, p, n) for n, fields in self.plan for a, p in fields):
            get = "app.%s.%s" % (path, attr)
            save.append("bytes(%s)" % get if inplace == "bytes" else "tuple(%s)" % get if inplace else get)
            restore.append("%s[:] = v[%d]" % (get, i) if inplace else "%s = v[%d]" % (get, i))
        code = "def save(app):\n    return (%s,)\ndef restore(app, v):\n    %s\n" % (
            ", ".join(save), "\n    ".join(restore))
        env = {}
        exec(code, env)  # noqa: S102  (code built above from attribute names of the live App)
        self.save, self.restore = env["save"], env["restore"]
