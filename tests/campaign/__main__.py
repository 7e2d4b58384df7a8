"""Evidence campaigns: ``python -m tests.campaign faults | fuzz --count N | soak --minutes M | wear``.

Each prints its figures, rewrites its section of docs/RELIABILITY.md and exits 1 if it
found any violation (2 on a usage error).
"""

import argparse
import sys
import time

from tests.campaign import faults, fuzz, linkfaults, report, rig, soak, wear

FS_NAMES = {"lfs": "littlefs", "fat": "FAT"}  # the sim's --fs


def _filesystems(text):
    names = text.split(",")
    if not names or any(n not in FS_NAMES for n in names):
        raise argparse.ArgumentTypeError("a comma-separated list of %s" % ", ".join(FS_NAMES))
    return names


def run_faults(opts):
    t0 = time.monotonic()
    summary, lines, bad = [], [], False
    for fs in opts.fs:
        print("reset at every step, /flash %s (heap %s, %d sims in parallel):" % (FS_NAMES[fs], rig.HEAP, opts.workers),
              flush=True)
        nominal, outcomes = faults.campaign(opts.limit, opts.limit, opts.workers, log=lambda s: print(s, flush=True),
                                            fs=fs)
        mine, bad_fs = _fault_summary(nominal, outcomes)
        summary += ["/flash %s:" % FS_NAMES[fs]] + mine
        lines += ["", "every point, /flash %s:" % FS_NAMES[fs]] + [faults.line(o) for o in [nominal] + outcomes]
        bad = bad or bad_fs
    print("link faults (PINGs per rate: %d):" % opts.commands, flush=True)
    levels = linkfaults.campaign(opts.commands, log=lambda s: print(s, flush=True))
    link_bad = sum(len(lv.violations) for lv in levels)
    summary += ["link faults: %d rates up to %.0e/byte, %d commands; violations: %d" % (
        len(levels), max(lv.rate for lv in levels), sum(lv.sent for lv in levels), link_bad)]
    print("writes forced during burns:", flush=True)
    forced = faults.burn_writes(log=lambda s: print(s, flush=True))
    summary += [forced.summary()]
    summary += ["campaign time %.0f s" % (time.monotonic() - t0)]
    print("\n".join(summary))
    lines = summary + lines
    lines += ["", "link faults, %d PINGs per rate:" % opts.commands] + [linkfaults.line(lv) for lv in levels]
    lines += ["", "writes forced during burns:"] + forced.lines()
    limit = " --limit %d" % opts.limit if opts.limit else ""
    report.write("faults", "python -m tests.campaign --heap %s faults --fs %s%s" % (rig.HEAP, ",".join(opts.fs), limit),
                 lines)
    return bad or bool(link_bad) or bool(forced.violations)


def _fault_summary(nominal, outcomes):
    """(summary lines, any violation) of one filesystem's reset and power-cut points."""
    hit = [o for o in outcomes if o.injected]
    bad = [o for o in [nominal] + outcomes if o.violations]
    lost = [o for o in outcomes if o.losses]
    summary = ["  nominal run: %d events after ARM, %d burns: %s" % (
        len(nominal.keys), nominal.burns, "ok" if not nominal.violations else "; ".join(nominal.violations))]
    for k in sorted({o.point.group for o in outcomes}):
        mine = [o for o in outcomes if o.point.group == k]
        summary.append("    %s: %d points, %d hit, %d lost records (reported)" % (
            k, len(mine), sum(o.injected for o in mine), sum(bool(o.losses) for o in mine)))
    summary += ["  injection points: %d (%d hit the board); violations: %d; records lost (reported; power lost "
                "without VBAT inside a sector write-back): %d of %d such runs" % (
                    len(outcomes), len(hit), len(bad), len(lost), sum(bool(o.sectors_lost) for o in outcomes))]
    return summary, bool(bad)


def run_fuzz(opts):
    t0 = time.monotonic()
    runs = [(fuzz.unix_port(opts.count, opts.seed), "unix port"),
            (fuzz.unix_port(opts.count, opts.seed, keyed=True), "unix port, a key in use, signed commands too"),
            (fuzz.under_hypothesis(max(100, opts.count // 10)), "hypothesis (CPython, count/10 examples)"),
            (fuzz.under_hypothesis(max(100, opts.count // 10), signed=True),
             "hypothesis, a key in use, signed commands with a byte changed or none")]
    lines = [line for r, what in runs for line in fuzz.describe(r, what)]
    found = sum(len(r.violations) for r, _ in runs)
    lines += ["fuzz violations: %d; %.0f s" % (found, time.monotonic() - t0)]
    print("\n".join(lines))
    report.write("fuzz", "python -m tests.campaign --heap %s fuzz --count %d --seed %d" % (
        rig.HEAP, opts.count, opts.seed), lines)
    return bool(found)


def run_soak(opts):
    lines, problems = soak.soak(opts.minutes, log=lambda s: print(s, flush=True))
    lines.append("soak problems (lost frames, commands not completed, firmware death): %d" % problems)
    print("\n".join(lines))
    report.write("soak", "python -m tests.campaign --heap %s soak --minutes %g" % (rig.HEAP, opts.minutes), lines)
    return bool(problems)


def run_wear(opts):
    day, events = wear.measure(timing=opts.timing, log=lambda s: print(s, flush=True))
    lines, margin = wear.budget(day, events)
    print("\n".join(lines))
    report.write("wear", "python -m tests.campaign --heap %s wear --timing %s" % (rig.HEAP, opts.timing), lines)
    return margin < wear.MARGIN


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tests.campaign", description=__doc__.splitlines()[0])
    p.add_argument("--heap", default=rig.HEAP, help="MicroPython heap of the board (default: the 64k budget)")
    sub = p.add_subparsers(dest="campaign", required=True)
    f = sub.add_parser("faults", help="reset/power cut at every step, and link faults")
    f.add_argument("--limit", type=int, help="at most this many event points, and power cuts per place (short form)")
    f.add_argument("--workers", type=int, default=2, help="sims run in parallel")
    f.add_argument("--fs", type=_filesystems, default=list(FS_NAMES),
                   help="filesystems of /flash to run the reset and power-cut points on (default: lfs,fat)")
    f.add_argument("--commands", type=int, default=40, help="PINGs per link noise rate")
    z = sub.add_parser("fuzz", help="fuzz the deframer and command handlers")
    z.add_argument("--count", type=int, default=100000)
    z.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("soak", help="maximum telemetry rate with commanding")
    s.add_argument("--minutes", type=float, default=60)
    w = sub.add_parser("wear", help="flash erases per sector over a mission profile")
    w.add_argument("--timing", choices=("typical", "max"), default="max", help="flash stalls of the sim")
    opts = p.parse_args(argv)
    rig.HEAP = opts.heap
    run = {"faults": run_faults, "fuzz": run_fuzz, "soak": run_soak, "wear": run_wear}[opts.campaign]
    return 1 if run(opts) else 0


sys.exit(main())
