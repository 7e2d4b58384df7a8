"""Link efficiency against the simulated board: how busy the downlink line is, at 115200 and 921600.

The line limit is baud/10 bytes/s (8N1). Two loads, each measured over WINDOW_S on the
ground: housekeeping alone at the fastest period the HK_PERIOD parameter allows (0:
continuous, the firmware keeping the line full), then the
same with the ground flooding PINGs (written back to back, paced only by the uplink's
own capacity), whose four reports and PONG each fill the downlink. Packet bytes are the
CCSDS packets themselves: line bytes minus the COBS code byte and the 0x00 delimiter of
each frame (exact for packets under 254 bytes, as all of ours are). Both depend on the
host (the sim paces the line in real time on a shared machine): each window is repeated
REPEATS times on one board and printed as median (min..max).
"""

import time

from firmware import dictionary as d
from firmware import framing
from tests.bench import Figures, spread
from tests.campaign import rig
from tests.campaign.rig import Board, param_id

BAUDS = (115200, 921600)
WINDOW_S = 5.0
REPEATS = 3
SETTLE_S = 0.5
HK_PERIOD_MS = d.parameter(d.P_HK_PERIOD).lo
_FLOOD_TICK_S = 0.01


def _window(c, flood=None):
    """(line bytes/s, packet bytes/s, packets/s) received over WINDOW_S, ``flood()`` called meanwhile."""
    link = c.link
    end = time.monotonic() + SETTLE_S
    while time.monotonic() < end:
        flood and flood()
        time.sleep(_FLOOD_TICK_S)
    b0, p0, t0 = link.rx_bytes, link.rx_packets, time.monotonic()
    while time.monotonic() < t0 + WINDOW_S:
        flood and flood()
        time.sleep(_FLOOD_TICK_S)
    dt = time.monotonic() - t0
    nbytes, npackets = link.rx_bytes - b0, link.rx_packets - p0
    return nbytes / dt, (nbytes - 2 * npackets) / dt, npackets / dt


def measure(baud):
    """([(line, packet, packets/s)] with HK alone, the same with a PING flood) at ``baud``, REPEATS each."""
    with Board(3, baud=baud) as board, board.client(baudrate=baud) as c:
        c.send("PARAM_SET", param_id("HK_PERIOD"), HK_PERIOD_MS)
        tc_bytes = len(framing.frame(c.build("PING").packet))
        per_tick = max(1, int(baud / 10 * _FLOOD_TICK_S / tc_bytes))

        def flood():
            for _ in range(per_tick):
                c.link.write(c.build("PING").packet)

        hk = [_window(c) for _ in range(REPEATS)]
        flooded = [_window(c, flood) for _ in range(REPEATS)]
        _drain(c.link)  # once: with HK continuous the line is never quiet, so this waits its timeout
    return hk, flooded


def _drain(link, quiet_s=0.5, timeout_s=60.0):
    """Wait until the flood's backlog has crossed the line (the sim stops promptly then)."""
    end = time.monotonic() + timeout_s
    last = -1
    while link.rx_bytes != last and time.monotonic() < end:
        last = link.rx_bytes
        time.sleep(quiet_s)


def run(report=False):
    f = Figures("efficiency: downlink use against the line limit baud/10 (8N1), %.0f s windows, sim heap %s, "
                "median (min..max over %d, host-dependent)" % (WINDOW_S, rig.HEAP, REPEATS))
    for baud in BAUDS:
        limit = baud / 10
        hk, flooded = measure(baud)
        fastest = "HK continuous" if HK_PERIOD_MS == 0 else "HK every %d ms" % HK_PERIOD_MS
        for what, windows in ((fastest, hk), ("HK + PING flood", flooded)):
            f.add("  %6d baud, %-16s %s packets/s, line %s%% busy" % (
                baud, what + ":", spread([w[2] for w in windows], "%.0f"),
                spread([100 * w[0] / limit for w in windows], "%.1f")))
    return f


if __name__ == "__main__":
    print("\n".join(run().lines))
