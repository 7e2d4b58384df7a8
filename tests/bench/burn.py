"""Burn pulse width in the simulated board: the commanded maximum against the measured on-time.

Each slot gets an open-circuit actuator (no release, so the burn runs to its limit) and a
different BURN_MAX; one FIRE each, RETRIES 0. The sim's burn history gives the actuator
on-time as the hardware saw it, the BURN_END event the firmware's own figure. The loop is
meant to cut MARGIN_MS before BURN_MAX, leaving the hardware cutoff as the backstop.
"""

from firmware import dictionary as d
from tests.bench import Figures
from tests.campaign import rig
from tests.campaign.rig import Board, param_id

BURN_MAX_MS = (200, 400, 700, 1000)
MARGIN_MS = 20  # firmware/sequencer.py _MARGIN: the loop ends a burn this much early


def measure():
    """[(commanded ms, sim on-time ms, firmware duration ms, ended by)] per slot."""
    out = []
    with Board(5) as board, board.client() as c:
        c.send("PARAM_SET", param_id("RETRIES"), 0)
        c.send("PARAM_SET", param_id("COOLDOWN"), 500)
        for slot, ms in enumerate(BURN_MAX_MS, 1):
            board.do("inject", fault="open_circuit", slot=slot)
            c.send("PARAM_SET", param_id("BURN_MAX"), ms)
            c.send("ARM", confirm=True)
            v = c.send("FIRE", slot, confirm=True, check=False, timeout=10)
            end = c.await_event("BURN_END", since=v.mark, slot=slot, timeout=10)
            c.send("DISARM")
            b = [b for b in board.do("burns")["burns"] if b["slot"] == slot][-1]
            out.append((ms, (b["end"] - b["start"]) * 1000, end.values["duration"], b["end_by"]))
    return out


def run(report=False):
    rows = measure()
    f = Figures("burn: actuator on-time vs commanded BURN_MAX (open circuit, no release), sim burn history, "
                "sim heap %s (host-dependent: the sim's timing)" % rig.HEAP)
    for ms, on, fw, by in rows:
        f.add("  BURN_MAX %5d ms: on-time %7.1f ms, error %+6.1f ms (loop aims at %+d), firmware says %d ms,"
              " ended by %s" % (ms, on, on - ms, -MARGIN_MS, fw, by))
    errors = [on - ms for ms, on, _fw, _by in rows]
    f.add("  pulse-width error: mean %+.1f ms, worst %+.1f ms over %d burns" % (
        sum(errors) / len(errors), max(errors, key=abs), len(errors)))
    return f


assert len(BURN_MAX_MS) == d.N_SLOTS

if __name__ == "__main__":
    print("\n".join(run().lines))
