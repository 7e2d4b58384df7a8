"""Reset at every step of a full four-slot release, and check the invariants on physical truth.

A nominal run (no fault) records the sequence of events the firmware emits after ARM;
every one of them is an injection point ("right after event N"), plus "mid-burn" of each
slot (half the plant's burn time after its BURN_START) and "as burn N starts" (a brown-out
armed for the next burn). Each is hit once with a reset (the reset button) and once with a
power cycle. Power cuts inside storage writes are enumerated separately, for each place a
cut can land (CUTS): inside the k-th sector write-back, right after its erase or half-way
through, inside the k-th backup-SRAM write, inside the k-th filesystem block write; for
k = 1, 2, ... until a run ends with no cut (every write tried); with and without VBAT
where it decides what survives.

Each point is one fresh sim (its own copy of a prepared flash, seed = point number). The
operator's recovery (docs/RELIABILITY.md) then runs, and the checks use the sim's physical
record:

- no slot has a powered burn that starts after its satellite separated (burned twice);
- no burn lasted longer than BURN_MAX, and no flash erase or write-back happened while an
  actuator was on;
- no slot was burned more than 1 + RETRIES times;
- every slot physically released is RELEASED in housekeeping (no release lost);
- a slot not released ends FAILED or UNKNOWN with a SLOT_FAILED/SLOT_UNKNOWN event,
  never STOWED in silence, and never RELEASED while its satellite is still aboard;
- every parameter reads back (PARAM_GET) as set before the run;
- the firmware process is alive at the end.

Power lost without VBAT inside a sector write-back (a power cut there, or a power cycle
that lands there) loses that whole sector, and with it every record the board keeps (the
filesystem's directory lives there): the board reports RECORD_MISSING or RECORD_CORRUPT and
starts from defaults. The sim counts such losses ("sectors_lost"); parameters reverted, or a
slot burned again, after such a report in such a run are counted as losses (the documented
limit of the board's storage, docs/ARCHITECTURE.md), in any other run as violations.
"""

import concurrent.futures
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from firmware import dictionary as d
from ground.client import FAILED
from ground.errors import GroundError
from tests.campaign.rig import (
    BURN_S,
    PARAMS,
    Board,
    copy_state,
    fresh_hk,
    param_id,
    prepare,
    read_params,
    wait_running,
)

ALL_SLOTS = list(range(1, d.N_SLOTS + 1))
SEQUENCE_S = 30.0  # a four-slot release with retries and its flash writes takes under 15 s here
BURN_SLACK_S = 0.05  # sim timing: a burn cut at BURN_MAX by the firmware ends this close to it
RESOLVE_S = 20.0  # a board that lost its flash formats it and writes every record anew first
_SLOT_REPORTS = {"SLOT_FAILED", "SLOT_UNKNOWN"}
_RECORD_LOST = {"RECORD_MISSING", "RECORD_CORRUPT"}
# Where a power cut lands: (sim powercut kind, bytes written before it, VBAT supplied)
CUTS = (("erase", 0, False), ("erase", 0, True), ("program", 4096, False), ("backup", 50, False),
        ("backup", 50, True), ("write", 256, False))
_CUT_NAMES = {"erase": "sector write-back %d, after the erase", "program": "sector write-back %d, half-way",
              "backup": "backup SRAM write %d", "write": "flash block write %d"}


@dataclass(frozen=True)
class Point:
    """Where a fault hits: ``kind`` reset | power_cycle | powercut | brownout.

    ``after`` = (event name, slot, occurrence) for resets and power cycles ("mid-burn"
    as the name for half-way through a burn); ``cut`` (a CUTS entry) and ``n`` for power
    cuts; ``slot`` for brown-outs at the start of that slot's first burn.
    """

    kind: str
    after: tuple | None = None
    cut: tuple = ()
    n: int = 0
    slot: int = 0

    @property
    def vbat(self):
        return bool(self.cut) and self.cut[2]

    def __str__(self):
        if self.kind == "powercut":
            return "power cut in " + _CUT_NAMES[self.cut[0]] % self.n + (" (VBAT)" if self.vbat else "")
        if self.kind == "brownout":
            return "brown-out as slot %d's first burn starts" % self.slot
        name, slot, n = self.after
        return "%s after %s%s%s" % (self.kind, name, " slot %d" % slot if slot else "", " #%d" % n if n > 1 else "")

    @property
    def group(self):
        """The kind of point, as the report sums them up."""
        if self.kind != "powercut":
            return self.kind
        return "power cut in " + _CUT_NAMES[self.cut[0]].replace(" %d", "") + (" (VBAT)" if self.vbat else "")



@dataclass
class Outcome:
    point: Point | None
    injected: bool = False
    violations: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    burns: int = 0
    sectors_lost: int = 0  # power lost without VBAT inside a sector write-back (the sim's count)
    seconds: float = 0.0
    keys: list = field(default_factory=list)


def event_key(rec):
    return rec.event, rec.values.get("slot", 0)


class Trigger:
    """Counts events on the link thread; fires the fault at its point, off that thread."""

    def __init__(self, point, board):
        self.point = point
        self.board = board
        self.seen = {}
        self.keys = []  # (name, slot, occurrence) of every event after ARM: the nominal points
        self.active = False

    def __call__(self, rec):
        if not (self.active and rec.event):
            return
        name, slot = event_key(rec)
        n = self.seen[name, slot] = self.seen.get((name, slot), 0) + 1
        self.keys.append((name, slot, n))
        p = self.point
        if p is None:
            return
        if p.kind == "brownout" and name == "BURN_START" and slot == p.slot - 1 and n == 1:  # next burn: p.slot's
            self._fire(0, "inject", fault="brownout", at="burn_start")
        elif p.kind in ("reset", "power_cycle") and p.after == ("mid-burn", slot, n) and name == "BURN_START":
            self._fire(BURN_S / 2, p.kind)
        elif p.kind in ("reset", "power_cycle") and p.after == (name, slot, n):
            self._fire(0, p.kind)

    def _fire(self, delay, cmd, **args):
        threading.Timer(delay, self.board.do, (cmd,), args).start()


def run_point(point, seed, template, fs="lfs"):
    """One full release with ``point``'s fault (None: nominal), recovery, checks."""
    t0 = time.monotonic()
    out = Outcome(point)
    try:
        with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
            copy_state(template, tmp)
            with Board(seed, state_dir=tmp, vbat=point is not None and point.vbat, fs=fs) as board:
                _run(board, Trigger(point, board), out)
    except (OSError, AssertionError) as e:  # the sim itself did not start or stop
        out.violations.append("sim: %s" % e)
    if out.losses and not out.sectors_lost:
        out.violations += out.losses
        out.losses = []
    out.seconds = time.monotonic() - t0
    return out


def _run(board, trigger, out):
    try:
        with board.client(on_record=trigger) as c:
            _release(c, board, trigger)
            board.do("clear")  # an unused power cut must not hit the recovery
            # The board reads the clear at its next storage write: a PING is answered once it has
            # (its outcome is written first), or by the board that a cut under way restarted.
            c.send("PING", timeout=2, retries=5)
            out.injected = board.starts() > 1
            wait_running(board, board.starts())
            records = recover(c)
            out.violations, out.losses = check(c, board, records)
    except (GroundError, AssertionError) as e:
        out.violations.append("ground lost the board: %s" % e)
    out.keys = trigger.keys
    out.burns = len(board.do("burns")["burns"])
    out.sectors_lost = board.do("state")["flash"]["sectors_lost"]
    if not board.alive():
        out.violations.append("the firmware process died")


def _release(c, board, trigger):
    """ARM and FIRE_SEQUENCE all four slots; returns when it completed or the board restarted."""
    p = trigger.point
    if p is not None and p.kind == "powercut":
        kind, nbytes, _ = p.cut
        board.do("inject", fault="powercut", **{kind: p.n, "bytes": nbytes})
    if p is not None and p.kind == "brownout" and p.slot == 1:
        board.do("inject", fault="brownout", at="burn_start")
    trigger.active = True
    sent = [c.submit("ARM", confirm=True)]
    if _until_done_or_reset(board, sent[0]):
        sent.append(c.submit("FIRE_SEQUENCE", ALL_SLOTS, 0, confirm=True))
        _until_done_or_reset(board, sent[1])
    time.sleep(0.3)  # a reset timed just after the last event lands now
    trigger.active = False
    for v in sent:  # the operator lets a command lost in the reset run out its retries first:
        v.wait(SEQUENCE_S)  # one that lands after the recovery's ARM would run in the middle of it


def _until_done_or_reset(board, v):
    """Wait for ``v`` to finish; False if the board restarted first (or it never finished)."""
    end = time.monotonic() + SEQUENCE_S
    while time.monotonic() < end and not v.done.is_set():
        if board.starts() > 1:
            return False
        time.sleep(0.05)
    return v.done.is_set() and board.starts() == 1


def recover(c):
    """The operator's recovery after a reset (docs/RELIABILITY.md); returns every record seen.

    0. (in _release) wait for the commands sent before the reset to end; 1. PING until the
    board answers; 2. HK one-shot until no slot is UNKNOWN (the firmware resolves UNKNOWN by
    its debounced switch, and writes each to flash), at most RESOLVE_S; 3. ARM, then FIRE
    each slot still STOWED, one at a time, waiting for each completion; 4. DISARM.
    """
    c.send("PING", timeout=2, retries=5)
    end = time.monotonic() + RESOLVE_S
    hk = fresh_hk(c)
    while time.monotonic() < end and _slots(hk).count(d.UNKNOWN):
        time.sleep(0.1)
        hk = fresh_hk(c)
    stowed = [s + 1 for s, st in enumerate(_slots(hk)) if st == d.STOWED]
    if stowed:
        c.send("ARM", confirm=True, check=False)
        for s in stowed:
            c.send("FIRE", s, confirm=True, check=False, timeout=20)
        c.send("DISARM", check=False)
    return c.records()


def _slots(hk):
    return [hk.values["slot%d" % (s + 1)] for s in range(d.N_SLOTS)]


def check(c, board, records):
    """The invariants: (violations, losses), both lists of strings (empty: all hold).

    A parameter reverted or a slot burned too often counts as a loss when the board said
    it lost its records (RECORD_MISSING or RECORD_CORRUPT), as a violation otherwise.
    """
    bad, lost = [], []
    lost_records = {rec.values.get("record") for rec in records if rec.event in _RECORD_LOST}
    released_at = dict(board.released_at)
    state = board.do("state")
    aboard = {s["slot"]: not s["released"] for s in state["slots"]}
    burns = board.do("burns")["burns"]
    for b in burns:
        if b["powered"] and b["slot"] in released_at and b["start"] > released_at[b["slot"]]:
            bad.append("slot %d burned at %.2f s after its release at %.2f s" % (
                b["slot"], b["start"], released_at[b["slot"]]))
        if b["end"] is not None and b["end"] - b["start"] > PARAMS["BURN_MAX"] / 1000 + BURN_SLACK_S:
            bad.append("slot %d burned %.3f s, more than BURN_MAX" % (b["slot"], b["end"] - b["start"]))
    if state["flash"]["stalls"]["during_burn"]:
        bad.append("%d flash erases or write-backs while an actuator was on" % state["flash"]["stalls"]["during_burn"])
    for s in range(1, d.N_SLOTS + 1):
        n = sum(b["slot"] == s and b["powered"] for b in burns)
        if n > 1 + PARAMS["RETRIES"]:
            (lost if 1 in lost_records else bad).append("slot %d burned %d times" % (s, n))
    hk = fresh_hk(c)
    reported = {rec.values.get("slot") for rec in records if rec.event in _SLOT_REPORTS}
    for s, st in enumerate(_slots(hk), 1):
        name = d.SLOT_STATES[st] if st < len(d.SLOT_STATES) else "?%d" % st
        if not aboard[s] and st != d.RELEASED:
            bad.append("slot %d released physically but %s in HK" % (s, name))
        elif aboard[s] and st == d.RELEASED:
            bad.append("slot %d RELEASED in HK with its satellite aboard" % s)
        elif aboard[s] and (st not in (d.FAILED, d.UNKNOWN) or s not in reported):
            bad.append("slot %d not released and %s without a SLOT_FAILED/SLOT_UNKNOWN event" % (s, name))
    got = read_params(c)
    wrong = ["parameter %s reads %d, set %d" % (k, got[k], v) for k, v in PARAMS.items() if got[k] != v]
    (lost if 2 in lost_records else bad).extend(wrong)
    return bad, lost


def points(nominal_keys):
    """Reset and power-cycle points from a nominal run's events, mid-burns, brown-outs."""
    after = list(nominal_keys)
    after += [("mid-burn", s, 1) for s in range(1, d.N_SLOTS + 1)]
    out = [Point(kind, a) for a in after for kind in ("reset", "power_cycle")]
    return out + [Point("brownout", slot=s) for s in range(1, d.N_SLOTS + 1)]


def campaign(limit=None, cut_limit=None, workers=2, log=print, fs="lfs"):
    """Nominal run, every event point, every storage write per CUTS; returns (nominal, outcomes).

    ``limit``: at most this many event points, spread over the sequence; ``cut_limit``: at
    most this many cuts per CUTS entry, 4 writes apart (CI's short form: all of them at once);
    ``fs``: the board's filesystem (the sim's ``--fs``: lfs, or fat as the stock image formats /flash).
    """
    with tempfile.TemporaryDirectory(prefix="faults-template-") as template:
        prepare(Path(template), fs)
        nominal = run_point(None, 0, template, fs)
        if nominal.violations:
            return nominal, []
        todo = _spread(points(nominal.keys), limit)
        if cut_limit is not None:
            todo += [Point("powercut", cut=cut, n=1 + 4 * i) for cut in CUTS for i in range(cut_limit)]
        outcomes = []
        n = len(todo)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for o in pool.map(run_point, todo, range(1, n + 1), [template] * n, [fs] * n):
                log(line(o))
                if o.point.kind != "powercut" or o.injected or o.violations:  # a cut past the last write
                    outcomes.append(o)
            seed = len(todo) + 1
            for cut in CUTS if cut_limit is None else ():
                found = _power_cuts(pool, workers, cut, seed, template, log, fs)
                seed += 1000
                outcomes += found
    return nominal, outcomes


def _power_cuts(pool, workers, cut, seed, template, log, fs):
    """Power cut at the k-th write of one CUTS kind, k = 1, 2, ... until a run sees no cut."""
    out = []
    k = 1
    while True:
        batch = [Point("powercut", cut=cut, n=k + i) for i in range(workers)]
        results = list(pool.map(run_point, batch, range(seed, seed + workers), [template] * workers, [fs] * workers))
        seed += workers
        for o in results:
            log(line(o))
        out += [o for o in results if o.injected or o.violations]
        if not all(o.injected for o in results):
            return out
        k += workers


def _spread(items, limit):
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def line(o):
    verdict = ("ok" if not o.losses else "LOST (reported): " + "; ".join(o.losses)) if not o.violations \
        else "VIOLATION: " + "; ".join(o.violations)
    hit = "hit" if o.injected else "not reached"
    return "  %-56s %s, %d burns, %.1f s: %s" % (o.point or "nominal (no fault)", hit, o.burns, o.seconds, verdict)


# --- writes forced during burns -----------------------------------------------------------
FORCED_BURN_S = 0.6  # plant burn time: long enough to command during each burn
FORCED_SLOTS = [1, 2, 3]  # released in sequence; slot 4 leaves on its own during burn 1


@dataclass
class Forced:
    burns: list = field(default_factory=list)  # seconds each actuator was on
    sent: int = 0
    busy: int = 0
    stalls_in_burns: int = 0
    violations: list = field(default_factory=list)

    def summary(self):
        return ("writes forced during burns: %d burns, longest %.3f s (BURN_MAX %.3f s); %d persisted commands "
                "sent during burns, %d refused BUSY; flash erases or write-backs during burns: %d; violations: %d"
                % (len(self.burns), max(self.burns, default=0), PARAMS["BURN_MAX"] / 1000, self.sent, self.busy,
                   self.stalls_in_burns, len(self.violations)))

    def lines(self):
        return ["  burn %d: %.3f s" % (i + 1, t) for i, t in enumerate(self.burns)] + [
            "  VIOLATION: " + v for v in self.violations]


def burn_writes(seed=31, log=print):
    """FIRE_SEQUENCE of slots 1-3 while, at each BURN_START, the ground sends persisted commands
    (PARAM_SET, HK_PERIOD) and a time-tagged PING falls due; during burn 1 slot 4's satellite
    leaves (its RELEASED state is a flash write). Then a power cycle without VBAT."""
    out = Forced()
    sent = []
    box = {}

    def force(slot):
        sent.append(box["c"].submit("PARAM_SET", param_id("ARM_WINDOW"), 121))
        sent.append(box["c"].submit("HK_PERIOD", d.HK_SID, 400))
        if slot == 1:
            box["board"].do("inject", fault="early_release", slot=4)

    def on_record(rec):
        if rec.event == "BURN_START":
            threading.Thread(target=force, args=(rec.values["slot"],)).start()

    with tempfile.TemporaryDirectory(prefix="forced-") as tmp:
        prepare(Path(tmp))
        with Board(seed, state_dir=tmp) as board, board.client(on_record=on_record) as c:
            box.update(c=c, board=board)
            board.do("config", burn_time=FORCED_BURN_S)
            c.send("TIME_SET", 20000, 0)
            c.send("SCHED_INSERT", 20000, 2500, "PING")
            inserted = c.position()
            c.send("ARM", confirm=True)
            v = c.send("FIRE_SEQUENCE", FORCED_SLOTS, 0, confirm=True, check=False, timeout=SEQUENCE_S)
            if not v.ok:
                out.violations.append("FIRE_SEQUENCE ended %s: %s" % (v.status, v.reason))
            for v in sent:
                v.wait()
            out.sent = len(sent)
            out.busy = sum(v.status == FAILED and "BUSY" in v.reason for v in sent)
            c.await_event("SCHEDULE_RELEASED", timeout=10, since=inserted)
            c.send("PING")  # answered once every write before it is done: none may be cut below
            state = board.do("state")
            out.stalls_in_burns = state["flash"]["stalls"]["during_burn"]
            out.burns = [b["end"] - b["start"] for b in board.do("burns")["burns"]]
            mark = c.position()
            board.do("power_cycle")
            wait_running(board, 2)
            c.send("PING", timeout=2, retries=5)
            slot4 = fresh_hk(c).values["slot4"]
            again = [r for r in c.records(mark) if r.event == "EARLY_RELEASE"]
    out.violations += ["a burn of %.3f s, more than BURN_MAX" % t for t in out.burns
                       if t > PARAMS["BURN_MAX"] / 1000 + BURN_SLACK_S]
    if out.stalls_in_burns:
        out.violations.append("%d flash erases or write-backs while an actuator was on" % out.stalls_in_burns)
    if out.busy != out.sent:
        out.violations.append("%d of %d persisted commands sent during burns not refused BUSY" % (
            out.sent - out.busy, out.sent))
    if slot4 != d.RELEASED or again:
        out.violations.append("slot 4's early release did not reach flash after the burn (%s, %d events again)"
                              % (d.SLOT_STATES[slot4], len(again)))
    log(out.summary())
    return out
