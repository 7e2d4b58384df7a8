"""Reset at every step of a full four-slot release, and check the invariants on physical truth.

A nominal run (no fault) records the sequence of events the firmware emits after ARM;
every one of them is an injection point ("right after event N"), plus "mid-burn" of each
slot (half the plant's burn time after its BURN_START) and "as burn N starts" (a brown-out
armed for the next burn). Each is hit once with a reset (the reset button) and once with a
power cycle. Flash writes are enumerated separately: a power cut during the k-th flash
block write after ARM, for k = 1, 2, ... until a run ends with no cut (every write tried).

Each point is one fresh sim (its own flash, seed = point number). The operator's recovery
(docs/RELIABILITY.md) then runs, and the checks use the sim's physical record:

- no slot has a powered burn that starts after its satellite separated (burned twice);
- every slot physically released is RELEASED in housekeeping (no release lost);
- a slot not released ends FAILED or UNKNOWN with a SLOT_FAILED/SLOT_UNKNOWN event,
  never STOWED in silence, and never RELEASED while its satellite is still aboard;
- every parameter reads back (PARAM_GET) as set before the run;
- the firmware process is alive at the end.
"""

import concurrent.futures
import threading
import time
from dataclasses import dataclass, field

from firmware import dictionary as d
from ground.errors import GroundError
from tests.campaign.rig import BURN_S, PARAMS, Board, fresh_hk, read_params, set_params, wait_running

ALL_SLOTS = list(range(1, d.N_SLOTS + 1))
SEQUENCE_S = 20.0  # a four-slot release with retries takes under 10 s here
_SLOT_REPORTS = {"SLOT_FAILED", "SLOT_UNKNOWN"}


@dataclass(frozen=True)
class Point:
    """Where a fault hits: ``kind`` reset | power_cycle | powercut | brownout.

    ``after`` = (event name, slot, occurrence) for resets and power cycles ("mid-burn"
    as the name for half-way through a burn); ``write`` = k for power cuts; ``slot``
    for brown-outs at the start of that slot's first burn.
    """

    kind: str
    after: tuple | None = None
    write: int = 0
    slot: int = 0

    def __str__(self):
        if self.kind == "powercut":
            return "power cut in flash write %d" % self.write
        if self.kind == "brownout":
            return "brown-out as slot %d's first burn starts" % self.slot
        name, slot, n = self.after
        return "%s after %s%s%s" % (self.kind, name, " slot %d" % slot if slot else "", " #%d" % n if n > 1 else "")


@dataclass
class Outcome:
    point: Point | None
    injected: bool = False
    violations: list = field(default_factory=list)
    burns: int = 0
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


def run_point(point, seed):
    """One full release with ``point``'s fault (None: nominal), recovery, checks."""
    t0 = time.monotonic()
    out = Outcome(point)
    try:
        with Board(seed) as board:
            _run(board, Trigger(point, board), out)
    except (OSError, AssertionError) as e:  # the sim itself did not start or stop
        out.violations.append("sim: %s" % e)
    out.seconds = time.monotonic() - t0
    return out


def _run(board, trigger, out):
    try:
        with board.client(on_record=trigger) as c:
            set_params(c)
            _release(c, board, trigger)
            out.injected = board.starts() > 1
            board.do("clear")  # an unused power cut must not hit the recovery
            wait_running(board, board.starts())
            records = recover(c)
            out.violations = check(c, board, records)
    except (GroundError, AssertionError) as e:
        out.violations.append("ground lost the board: %s" % e)
    out.keys = trigger.keys
    out.burns = len(board.do("burns")["burns"])
    if not board.alive():
        out.violations.append("the firmware process died")


def _release(c, board, trigger):
    """ARM and FIRE_SEQUENCE all four slots; returns when it completed or the board restarted."""
    p = trigger.point
    if p is not None and p.kind == "powercut":
        board.do("inject", fault="powercut", write=p.write)
    if p is not None and p.kind == "brownout" and p.slot == 1:
        board.do("inject", fault="brownout", at="burn_start")
    trigger.active = True
    if _until_done_or_reset(board, c.submit("ARM", confirm=True)):
        _until_done_or_reset(board, c.submit("FIRE_SEQUENCE", ALL_SLOTS, 0, confirm=True))
    time.sleep(0.3)  # a reset timed just after the last event lands now
    trigger.active = False


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

    1. PING until the board answers; 2. HK one-shot until no slot is UNKNOWN (the firmware
    resolves UNKNOWN by its debounced switch), at most 3 s; 3. ARM, then FIRE each slot still
    STOWED, one at a time, waiting for each completion; 4. DISARM.
    """
    c.send("PING", timeout=2, retries=5)
    end = time.monotonic() + 3
    hk = fresh_hk(c)
    while time.monotonic() < end and _slots(hk).count(d.UNKNOWN):
        time.sleep(0.1)
        hk = fresh_hk(c)
    stowed = [s + 1 for s, st in enumerate(_slots(hk)) if st == d.STOWED]
    if stowed:
        c.send("ARM", confirm=True, check=False)
        for s in stowed:
            c.send("FIRE", s, confirm=True, check=False, timeout=10)
        c.send("DISARM", check=False)
    return c.records()


def _slots(hk):
    return [hk.values["slot%d" % (s + 1)] for s in range(d.N_SLOTS)]


def check(c, board, records):
    """The invariants, as a list of violations (empty: all hold)."""
    bad = []
    released_at = dict(board.released_at)
    aboard = {s["slot"]: not s["released"] for s in board.do("state")["slots"]}
    for b in board.do("burns")["burns"]:
        if b["powered"] and b["slot"] in released_at and b["start"] > released_at[b["slot"]]:
            bad.append("slot %d burned at %.2f s after its release at %.2f s" % (
                b["slot"], b["start"], released_at[b["slot"]]))
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
    bad += ["parameter %s reads %d, set %d" % (k, got[k], v) for k, v in PARAMS.items() if got[k] != v]
    return bad


def points(nominal_keys):
    """Reset and power-cycle points from a nominal run's events, mid-burns, brown-outs."""
    after = list(nominal_keys)
    after += [("mid-burn", s, 1) for s in range(1, d.N_SLOTS + 1)]
    out = [Point(kind, a) for a in after for kind in ("reset", "power_cycle")]
    return out + [Point("brownout", slot=s) for s in range(1, d.N_SLOTS + 1)]


def campaign(limit=None, workers=2, log=print):
    """Nominal run, every event point, every flash write; returns (nominal, outcomes).

    ``limit``: at most this many event points and flash writes each (CI's short form),
    spread evenly over the sequence.
    """
    nominal = run_point(None, 0)
    if nominal.violations:
        return nominal, []
    todo = _spread(points(nominal.keys), limit)
    outcomes = []
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for o in pool.map(run_point, todo, range(1, len(todo) + 1)):
            log(line(o))
            outcomes.append(o)
        outcomes += _flash_writes(pool, workers, len(todo) + 1, limit, log)
    return nominal, outcomes


def _flash_writes(pool, workers, seed, limit, log):
    """Power cut at write k = 1, 2, ... until a run sees no cut (or ``limit`` writes)."""
    out = []
    k = 1
    stride = 1 if limit is None else 3
    while limit is None or len(out) < limit:
        batch = [Point("powercut", write=k + stride * i) for i in range(workers)]
        results = list(pool.map(run_point, batch, range(seed, seed + workers)))
        seed += workers
        for o in results:
            log(line(o))
        out += [o for o in results if o.injected or o.violations]
        if not all(o.injected for o in results):
            break
        k += stride * workers
    return out


def _spread(items, limit):
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def line(o):
    verdict = "ok" if not o.violations else "VIOLATION: " + "; ".join(o.violations)
    hit = "hit" if o.injected else "not reached"
    return "  %-45s %s, %d burns, %.1f s: %s" % (o.point or "nominal (no fault)", hit, o.burns, o.seconds, verdict)
