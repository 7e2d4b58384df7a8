"""Benchmarks (`make bench`): each module's ``run(report)`` returns its ``Figures``."""

import statistics


class Figures:
    """Lines to print, and the host-independent targets missed (``make bench`` fails on any)."""

    def __init__(self, title):
        self.lines = [title]
        self.misses = []

    def add(self, line):
        self.lines.append(line)

    def check(self, line, target, ok):
        """A host-independent figure (instructions, allocation, heap) against its target."""
        self.lines.append("%s [target %s: %s]" % (line, target, "ok" if ok else "MISSES TARGET"))
        if not ok:
            self.misses.append(line.strip())


def spread(values, fmt="%.2f"):
    """``median (min..max over n)``: a host-dependent figure over repeats."""
    return ("%s (%s..%s over %d)" % (fmt, fmt, fmt, len(values))) % (
        statistics.median(values), min(values), max(values))
