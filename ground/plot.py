"""Housekeeping fields over ground time, from an archive, drawn with matplotlib.

One panel per field, in engineering units, with the dictionary limits as dashed
lines; an enum field (a state) is drawn over its names. A field that packs a set
of bits or a count per slot has no single value to draw: asking for it is a
usage error that says so. The file type follows the ``out`` suffix (png, svg, pdf).
"""

import datetime

from firmware import dictionary as d
from ground import codec
from ground.archive import open_existing
from ground.errors import LocalError, UsageError

DEFAULT_FIELDS = ("temperature", "heap_free", "arm_left", "tc_accepted", "tc_rejected")
_HK = {f.name: f for f in d.HK_FIELDS}
_PLOTTABLE = tuple(f.name for f in d.HK_FIELDS if f.names is None or f.names.kind == d.ENUM)


def housekeeping(path):
    """(ground time, Record) for every well-formed HK report in the archive."""
    archive = open_existing(path)
    try:
        records = [(t, codec.decode(raw)) for t, _direction, raw in archive.frames("TM")]
    finally:
        archive.close()
    return [(t, r) for t, r in records if r is not None and r.name == "HK" and not r.error]


def plot(path, out, fields=DEFAULT_FIELDS):
    unknown = [f for f in fields if f not in _HK]
    if unknown:
        raise UsageError("not a housekeeping field: %s (fields: %s)" % (", ".join(unknown), " ".join(_PLOTTABLE)))
    packed = [f for f in fields if f not in _PLOTTABLE]
    if packed:
        raise UsageError("%s: a set of flags or a count per slot, not one value to plot (see: ground replay); "
                         "fields: %s" % (", ".join(packed), " ".join(_PLOTTABLE)))
    hk = housekeeping(path)
    if not hk:
        raise UsageError("no housekeeping reports in %s: nothing to plot" % path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = hk[0][0]
    xs = [t - t0 for t, _r in hk]
    fig, axes = plt.subplots(len(fields), 1, sharex=True, figsize=(10, 1.8 * len(fields) + 1), squeeze=False)
    for ax, name in zip(axes[:, 0], fields, strict=True):
        f = _HK[name]
        factor, unit, _decimals = codec.scaling(f)
        ax.plot(xs, [r.values[name] * factor for _t, r in hk], drawstyle="steps-post")
        if f.names is not None:  # an enum: its names on the axis
            values, names = zip(*f.names.pairs(), strict=True)
            ax.set_yticks(values, names)
            ax.set_ylim(min(values) - 0.5, max(values) + 0.5)
        for limit in (f.lo, f.hi):
            if limit is not None:
                ax.axhline(limit * factor, color="red", linestyle="--", linewidth=0.8)
        ax.set_ylabel("%s\n%s" % (name, unit) if unit else name)
        ax.grid(True, alpha=0.3)
    start = datetime.datetime.fromtimestamp(t0, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    axes[-1, 0].set_xlabel("ground time since %s (s)" % start)
    fig.suptitle("Housekeeping: %s" % path)
    fig.tight_layout()
    try:
        fig.savefig(out)
    except ValueError as e:  # a file type matplotlib does not write
        raise UsageError("cannot write %s: %s" % (out, e))
    except OSError as e:
        raise LocalError("cannot write %s: %s" % (out, e))
    finally:
        plt.close(fig)
    return len(hk)
