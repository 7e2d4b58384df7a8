"""``python -m tests.explore [--scope NAME ...] [--states N] [--seconds S] [--workers N] [--quick] [--report]``

Runs the explorations of tests/explore/scopes.py one after the other until they have found
``--states`` distinct states together or used ``--seconds`` (each takes an equal share of what
the earlier ones left of both, so one that exhausts its bounds early leaves the rest to the
others), prints their figures
and, for each kind of violation, its shortest trace and a pytest test that replays it. With
``--report`` the figures go to docs/RELIABILITY.md (``make explore``). Exits 1 on any violation.
"""

import argparse
import os
import subprocess
import sys
import time

from tests.explore import scopes
from tests.explore.search import explore
from tests.explore.world import label


def test_text(scope, message, events):
    """A pytest test that fails while ``events`` still break the invariant ``message`` is about."""
    words = ["".join(c for c in w if c.isalpha()) for w in message.split(":")[0].lower().split()
             if not any(c.isdigit() for c in w)]
    lines = ["def test_no_%s():" % "_".join(w for w in words if w)[:60].rstrip("_"),
             "    # %s" % message,
             "    assert replay(%r, [" % scope]
    lines += ["        %r," % (e,) for e in events]
    return lines + ["    ]) == []"]


def run(names, states, seconds, workers, quick, log):
    t0 = time.monotonic()
    results = []
    for name in names:
        bounds = scopes.named(name, quick)
        scopes_left = len(names) - len(results)
        left = seconds - (time.monotonic() - t0), states - sum(r.states for r in results)
        log("scope %s: %s" % (name, bounds))
        results.append(explore(bounds, left[1] // scopes_left, left[0] / scopes_left, workers, log))
    return results


def _commit():
    """The commit the firmware and the explorer are at (``+`` if the tree has changes)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "firmware", "tests/explore"], capture_output=True,
                           text=True).stdout.strip()
    return head + ("+" if dirty else "")


def lines(results):
    out = []
    for r in results:
        out.append("scope %-9s %s" % (r.bounds.name, r.summary()))
    states, cpu = sum(r.states for r in results), sum(r.cpu for r in results)
    out.append("total: %d distinct states, %d transitions, %.0f s (%.0f CPU s: %.0f states per CPU second); "
               "load average %.1f (1 minute, mean at the scopes' ends) on %d cores" % (
                   states, sum(r.transitions for r in results), sum(r.seconds for r in results), cpu,
                   states / max(cpu, 1e-9), sum(r.load for r in results) / len(results), os.cpu_count() or 1))
    for r in results:
        for message, events in r.violations.values():
            out += ["", "[%s] %s" % (r.bounds.name, message),
                    "  shortest trace (%d events): %s" % (len(events), " | ".join(label(e) for e in events)),
                    "  replay (tests/explore/search.py replay):"]
            out += ["    " + s for s in test_text(r.bounds.name, message, events)]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tests.explore", description=__doc__.split("\n\n")[1])
    ap.add_argument("--scope", action="append", choices=[b.name for b in scopes.SCOPES],
                    help="exploration to run (repeatable; default: all)")
    ap.add_argument("--states", type=int, default=10**6, help="stop at this many distinct states (all scopes together)")
    ap.add_argument("--seconds", type=float, default=540, help="time for all scopes together")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    ap.add_argument("--quick", action="store_true", help="the bounded form make test runs")
    ap.add_argument("--report", action="store_true", help="write the figures to docs/RELIABILITY.md")
    ap.add_argument("--section", default="explore",
                    choices=("explore", "explore before the part 2 fix", "explore before the fixes"),
                    help="the section of docs/RELIABILITY.md --report writes")
    opts = ap.parse_args(argv)
    names = opts.scope or [b.name for b in (scopes.QUICK if opts.quick else scopes.SCOPES)]
    results = run(names, opts.states, opts.seconds, opts.workers, opts.quick, lambda s: print(s, flush=True))
    text = lines(results)
    print("\n".join(text))
    if opts.report:
        from tests.campaign import report
        args = " ".join("--scope %s" % n for n in opts.scope or ())
        args += "" if opts.states == 10**6 and opts.seconds == 540 else " --states %d --seconds %g" % (
            opts.states, opts.seconds)
        report.write(opts.section, "python -m tests.explore%s` at commit `%s" % (args and " " + args, _commit()), text)
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
