"""The distribution of command round-trip latency, drawn: docs/roundtrip-latency.png.

Takes its own sample of PINGs with tests/bench/roundtrip.py's measurement (the same
Client exchange at the same baud, housekeeping off) and draws the histograms of the
acceptance and completion times (roundtrip.py prints them against wire time).
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from tests.bench import roundtrip  # noqa: E402
from tests.campaign.rig import Board  # noqa: E402
from tests.sim.simproc import ROOT  # noqa: E402

OUT = ROOT / "docs" / "roundtrip-latency.png"


def run():
    with Board(9, baud=roundtrip.BAUD) as board, tempfile.TemporaryDirectory() as tmp:
        accepted, completed = roundtrip._ping_times(board.sim.ports["link"], os.path.join(tmp, "seq"))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max(completed)
    bins = [top * i / 60 for i in range(61)]
    for label, times in (("ACCEPTED", accepted), ("COMPLETED", completed)):
        ax.hist(times, bins=bins, alpha=0.6, label="%s (p50 %.1f ms, p99 %.1f ms)" % (
            label, roundtrip._percentile(times, 50), roundtrip._percentile(times, 99)))
    ax.set_xlabel("round trip from the ground's write, ms")
    ax.set_ylabel("PINGs")
    ax.set_title("PING round trip at %d baud, n=%d, simulated board" % (roundtrip.BAUD, len(completed)))
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT, dpi=100)
    plt.close(fig)
    return ["roundtrip plot: %s, n=%d, completion range %.1f..%.1f ms" % (
        OUT.relative_to(ROOT), len(completed), min(completed), top)]


if __name__ == "__main__":
    print("\n".join(run()))
