"""Breadth-first search over the world's abstract states, on every core.

Level by level: the frontier (snapshots of the states first reached at this depth, pickled: the
workers send them as bytes and unpickle those they expand, so the parent never does) is split
between worker processes forked for the level, so each inherits the visited set as it stands
(copy-on-write, nothing to send); each worker restores every state of its share into its one
live App, tries every enabled event (and a power cut and a reset in each flash write the event
makes, from what that write left: ``World.restart_in``), and returns the successors it has not
sent in this level. The parent keeps the first of each, with its parent and event, so the path
to any state (the shortest: breadth-first) can be rebuilt.
A state that breaks an invariant is reported with that path and not explored further.
"""

import gc
import multiprocessing
import os
import pickle
import resource
import time

from tests.explore import scopes
from tests.explore.world import RESTARTS, World, flash_in_ram, label

_CHUNK = 64  # frontier states per task handed to a worker


class Result:
    """What a search did: figures, and the first (shortest) path to each kind of violation."""

    def __init__(self, bounds, workers):
        self.bounds = bounds
        self.workers = workers
        self.states = 1
        self.transitions = 0
        self.depth = 0
        self.complete = False  # the reachable set within the bounds was exhausted
        self.partial = False  # the last depth was cut short by the state or time limit
        self.seconds = 0.0
        self.cpu = 0.0  # CPU seconds of the search and its workers
        self.load = 0.0  # the machine's load average (1 minute) as it ended: others share the cores
        self.violations = {}  # kind -> (message, events)
        self.levels = []  # distinct new states per depth

    def summary(self):
        depth = "depth %d%s" % (self.depth, " (complete)" if self.complete else " (in part)" if self.partial else "")
        return ("%d distinct states, %d transitions, %s, %.0f s (%.0f CPU s) on %d worker%s, load %.1f; violations: %d"
                % (self.states, self.transitions, depth, self.seconds, self.cpu, self.workers,
                   "" if self.workers == 1 else "s", self.load, len(self.violations)))


def kind(message):
    """The invariant a violation message is about (its words without the numbers)."""
    return " ".join(w for w in message.split() if not any(ch.isdigit() for ch in w))


def explore(bounds, max_states=10**6, max_seconds=540, workers=None, log=print):
    """Search from the world's first state; stop at the depth bound, ``max_states`` or ``max_seconds``."""
    workers = workers or os.cpu_count() or 1
    result = Result(bounds, workers)
    t0 = time.monotonic()
    cpu0 = _cpu()
    with flash_in_ram() as flash:
        world = World(bounds, flash)
        global _WORLD, _VISITED, _FRONTIER
        _WORLD = world
        visited = {hash(world.key())}
        parents = [(-1, None)]  # state id -> (parent id, event)
        frontier = [(0, pickle.dumps(world.snapshot(), pickle.HIGHEST_PROTOCOL))]
        ctx = multiprocessing.get_context("fork")
        while frontier and result.depth < bounds.depth:
            if len(parents) >= max_states or time.monotonic() - t0 > max_seconds:
                break
            _VISITED = visited
            _SEEN.clear()
            _FRONTIER = frontier
            tasks = [(i, i + _CHUNK) for i in range(0, len(frontier), _CHUNK)]
            gc.freeze()  # the collector leaves what the search holds alone (and the workers' copies of it)
            limit = (max_states, t0 + max_seconds)
            if workers > 1 and len(frontier) > _CHUNK:
                pool = ctx.Pool(workers)
                try:
                    nxt = _merge(pool.imap(_expand, tasks), visited, parents, result, limit)  # in order: runs repeat
                finally:
                    pool.terminate()
                    pool.join()  # reaped: their CPU time counts
            else:
                nxt = _merge(map(_expand, tasks), visited, parents, result, limit)
            result.depth += 1
            result.levels.append(len(nxt))
            result.states = len(parents)
            log("depth %d: %d new states (%d in all), %d transitions, %.0f s" % (
                result.depth, len(nxt), result.states, result.transitions, time.monotonic() - t0))
            frontier = nxt
            if result.partial:
                break
        else:
            result.complete = not frontier
        gc.unfreeze()
        for k, (sid, message) in result.violations.items():
            result.violations[k] = (message, path(parents, sid))
    result.seconds = time.monotonic() - t0
    result.cpu = _cpu() - cpu0
    result.load = os.getloadavg()[0]
    return result


def _cpu():
    """CPU seconds of this process and of its children that have ended (the workers of each depth)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _merge(outs, visited, parents, result, limit):
    """Keep the successors not seen yet; stop early (``result.partial``) past ``limit`` (states, time)."""
    nxt = []
    for successors, transitions in outs:
        if len(parents) >= limit[0] or time.monotonic() > limit[1]:
            result.partial = True
            break
        result.transitions += transitions
        for h, parent, event, snap, found in successors:
            if h in visited:
                continue
            visited.add(h)
            sid = len(parents)
            parents.append((parent, event))
            if found:
                result.violations.setdefault(kind(found[0]), (sid, found[0]))
            else:
                nxt.append((sid, snap))
    return nxt


_WORLD = None  # the process's world, inherited by the forked workers
_VISITED = set()
_SEEN = set()  # successors this process has sent in this level (each worker's tasks come in order: the parent
# keeps the first of each, so a later one need not be sent)
_FRONTIER = []


def _expand(task):
    """Successors of frontier[start:end] that the visited set (as forked) does not hold."""
    w = _WORLD
    seen = _SEEN
    out = []
    transitions = 0
    kinds = [k for k in RESTARTS if k in w.bounds.kinds and w.bounds.in_writes]  # restarts in a flash write
    for sid, data in _FRONTIER[task[0]:task[1]]:
        snap = pickle.loads(data)
        w.restore(snap)
        events = [e for e in w.events if w.enabled(e)]
        restarts = kinds if w.resets < w.bounds.resets else []
        # restart points already tried from this state; one before anything changed is the restart
        # between events (an event of its own)
        done = {k: {w.restart_point()[k]} if (k,) in events else set() for k in restarts}
        for i, event in enumerate(events):
            if i:
                w.restore(snap)
            transitions += 1
            points = [] if restarts else None
            _step(w, event, sid, seen, out, points)
            for n, (point, cut) in enumerate(points or (), 1):
                for k in restarts:
                    if point[k] not in done[k]:
                        done[k].add(point[k])
                        transitions += 1
                        _step(w, (k, n, event), sid, seen, out, cut=cut)
    return out, transitions


def _step(w, event, sid, seen, out, points=None, cut=None):
    """Apply ``event`` (a restart in a flash write: from what the write left, ``cut``); note the
    successor if new."""
    try:
        if cut is None:
            w.apply(event, points)
        else:
            w.restart_in(event, cut)
        found = w.found
    except Exception as e:  # the firmware raised: the board would reset
        found = ["firmware raised %s: %s" % (type(e).__name__, e)]
    h = hash(w.key()) if not found else hash((sid, event))
    if h not in _VISITED and h not in seen:
        seen.add(h)
        out.append((h, sid, event, None if found else pickle.dumps(w.snapshot(), pickle.HIGHEST_PROTOCOL), found))


def path(parents, sid):
    """The events from the first state to state ``sid``."""
    events = []
    while sid > 0:
        sid, event = parents[sid]
        events.append(event)
    return events[::-1]


def replay(scope, events):
    """Run ``events`` from the first state under the bounds of ``scope`` (tests/explore/scopes.py);
    the violations of the first event that finds any, else []."""
    with flash_in_ram() as flash:
        w = World(scopes.named(scope), flash)
        for event in events:
            assert w.enabled(event), "not possible here: %s" % label(event)
            w.apply(event)
            if w.found:
                return w.found
    return []
