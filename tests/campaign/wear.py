"""Flash wear: erases per sector for a stated operations profile, counted by the sim.

The sim's flash is the board's (sim/board.py): MicroPython's block device over internal-
flash sectors 1-4, erasing a whole sector at every write-back, and it counts the erases
per sector. The profile (PROFILE) is run on it in two parts, each from a prepared board
(parameters set, slots resolved):

- one mission day of routine: one command a minute (the reading commands in turn, plus
  the day's TIME_SETs) and the day's resets, every one of them sent;
- the mission's events, every one of them: releases (ARM, FIRE), parameter changes and
  time-tagged commands (SCHED_INSERT, then their release).

Erases per sector over the mission = days x one day + the events; each sector is rated
for 10,000 erase cycles (STM32F429 datasheet), and the margin is rated / erases of the
most-erased sector (the budget asks for 10 at least). The figure for "all on one sector"
adds every erase as if littlefs never moved its directory. Run with the datasheet's
maximum flash timing, the same runs also give the longest freeze of the firmware and the
longest time it went without feeding the watchdog.
"""

import concurrent.futures
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from firmware import dictionary as d
from tests.campaign.rig import Board, copy_state, param_id, prepare, wait_running

RATED_ERASES = 10000  # per sector: STM32F429 datasheet, flash endurance (N_END)
MARGIN = 10
PROFILE = {
    "days": 180,  # transit and lunar orbit
    "commands_per_day": 1440,  # one a minute
    "time_sets_per_day": 2,  # one per contact
    "resets_per_day": 1,  # upsets, brown-outs: a pessimistic rate
    "releases": d.N_SLOTS,  # ARM + FIRE each
    "param_changes": 10,
    "scheduled": 4,  # time-tagged commands inserted and released
}
_READS = (("PING",), ("HK_ONE_SHOT", d.HK_SID), ("PARAM_GET", 1), ("TIME_REPORT",), ("SCHED_LIST",))


@dataclass
class Part:
    name: str
    erases: list = field(default_factory=list)  # per sector 1..4
    commands: int = 0
    resets: int = 0
    longest_stall_ms: int = 0
    longest_unfed_ms: int = 0
    seconds: float = 0.0


def _run(name, template, timing, body):
    t0 = time.monotonic()
    part = Part(name)
    with tempfile.TemporaryDirectory(prefix="wear-") as tmp:
        copy_state(template, tmp)
        with Board(5, "--flash-timing", timing, state_dir=tmp) as board, board.client(timeout=30) as c:
            before = board.do("state")["flash"]["erases"]
            body(board, c, part)
            state = board.do("state")
    part.erases = [a - b for a, b in zip(state["flash"]["erases"], before, strict=True)]
    part.longest_stall_ms = state["flash"]["stalls"]["longest_ms"]
    part.longest_unfed_ms = state["board"]["longest_unfed_ms"]
    part.seconds = time.monotonic() - t0
    return part


def _day(commands, time_sets, resets):
    def body(board, c, part):
        every = commands // (time_sets + resets + 1)
        for i in range(commands):
            k = i // every if i % every == 0 else 0  # the k-th TIME_SET or reset of the day, 1-based
            if 1 <= k <= time_sets:
                c.send("TIME_SET", 20000, i)
            elif time_sets < k <= time_sets + resets:
                board.do("reset")
                wait_running(board, board.starts())
                c.send("PING", timeout=2, retries=5)
                part.resets += 1
            else:
                c.send(*_READS[i % len(_READS)])
            part.commands += 1
    return body


def _events(releases, param_changes, scheduled):
    def body(board, c, part):
        for i in range(param_changes):
            c.send("PARAM_SET", param_id("ARM_WINDOW"), 100 + i)
        mark = c.send("TIME_SET", 20000, 0).mark
        t0 = time.monotonic()  # on-board time 20000 d 0 ms, give or take the link's few ms
        for i in range(scheduled):
            due = round((time.monotonic() - t0) * 1000) + 3000
            c.send("SCHED_INSERT", 20000, due, "PING")
            # one at a time: a release writes the schedule to flash, which can freeze the board for
            # seconds (a 64 KiB sector at max timing) and so hold the next insert past its release time
            _await_released(c, mark, i + 1)
        for i in range(releases):
            c.send("ARM", confirm=True)
            c.send("FIRE", i + 1, confirm=True, timeout=30)
        c.send("PING")  # answered once every write before it is done
        part.commands = param_changes + 1 + scheduled + 2 * releases
    return body


def _await_released(c, mark, n):
    end = time.monotonic() + 90
    while sum(r.event == "SCHEDULE_RELEASED" for r in c.records(mark)) < n:
        assert time.monotonic() < end, "time-tagged command not released within 90 s"
        time.sleep(0.2)


def measure(profile=PROFILE, commands=None, timing="max", log=print):
    """(one day, the events): the two Parts of ``profile``, each on a sim of its own, side by
    side. ``commands``: a day with fewer reading commands (CI's short form; its TIME_SETs and
    resets all the same)."""
    p = profile
    with tempfile.TemporaryDirectory(prefix="wear-template-") as template:
        prepare(Path(template))
        n = commands or p["commands_per_day"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            day = pool.submit(_run, "one day", template, timing,
                              _day(n, p["time_sets_per_day"], p["resets_per_day"]))
            events = pool.submit(_run, "mission events", template, timing,
                                 _events(p["releases"], p["param_changes"], p["scheduled"]))
            day, events = day.result(), events.result()
    log(line(day))
    log(line(events))
    return day, events


def budget(day, events, profile=PROFILE):
    """Report lines and the margin: rated erases over the mission's most-erased sector."""
    days = profile["days"]
    mission = [days * a + b for a, b in zip(day.erases, events.erases, strict=True)]
    worst = max(mission)
    lumped = sum(mission)
    margin = RATED_ERASES / max(worst, 1)
    lines = ["profile: %s" % ", ".join("%s %d" % kv for kv in profile.items()),
             line(day), line(events),
             "mission erases per sector (1-4): %s; most-erased sector %d, %.1f per day; rated %d: margin %.0fx "
             "(budget: %dx)" % (" ".join(map(str, mission)), worst, worst / days, RATED_ERASES, margin, MARGIN),
             "all erases on one sector: %d, margin %.0fx" % (lumped, RATED_ERASES / max(lumped, 1)),
             "longest freeze of the firmware (one erase or write-back): %d ms; longest time unfed (watchdog): %d ms"
             % (max(day.longest_stall_ms, events.longest_stall_ms),
                max(day.longest_unfed_ms, events.longest_unfed_ms))]
    return lines, margin


def line(part):
    return "  %s: %d commands, %d resets: erases per sector %s, %.0f s" % (
        part.name, part.commands, part.resets, part.erases, part.seconds)
