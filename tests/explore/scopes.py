"""The explorations: every event to a shallow depth, fewer events deeper, and their quick forms.

``make explore`` runs ``SCOPES``; ``make test`` runs ``QUICK`` (tests/test_explore.py), small
enough for CI and still deep enough to reach the defects of issue 11 (the test proves it).
"""

from tests.explore.world import KINDS, VALUES, Bounds

_TIME = ("advance", "approach")
_RESETS = ("reset", "power cut")
_ENDS = {p: (v[0], v[2]) for p, v in VALUES.items()}  # range ends only

EVERY = Bounds("every", KINDS, slots=2, depth=12)
RETRY = Bounds("retry", ("ARM", "FIRE", "ABORT", "PARAM_SET", "separate", "bounce", "stuck") + _TIME + _RESETS,
               slots=1, depth=12, values={p: v for p, v in VALUES.items() if p != "ARM_WINDOW"})
ONCE = Bounds("once", ("ARM", "FIRE", "ABORT", "SAFE", "resend", "PING", "TIME_SET", "SCHED_INSERT", "SCHED_ENABLE",
                       "SCHED_DISABLE", "separate") + _TIME + _RESETS, slots=1, depth=9)
INHIBITS = Bounds("inhibits", ("ARM", "DISARM", "FIRE", "FIRE_SEQUENCE", "SAFE", "RBF", "permit", "arm line",
                               "separate", "stuck", "PARAM_SET") + _TIME + _RESETS, slots=2, depth=10,
                  values={"ARM_WINDOW": VALUES["ARM_WINDOW"]})
# The attacker: key 1 in use, every command of the operator's signed; every packet heard replayed or altered
ATTACK = Bounds("attack", ("ARM", "FIRE", "ABORT", "TIME_SET", "SCHED_INSERT", "PARAM_SET", "PING", "replay", "alter",
                           "advance") + _RESETS, slots=1, depth=7, values={"COOLDOWN": (VALUES["COOLDOWN"][2],)})
SCOPES = (RETRY, ONCE, INHIBITS, ATTACK, EVERY)  # the deep ones first; every event takes the time left

# make test: the timing parameters at their range ends, no power cuts, no resets inside a flash write,
# no stuck switches
QUICK = (Bounds("retry", ("ARM", "FIRE", "ABORT", "PARAM_SET", "separate", "bounce") + _TIME + ("reset",),
                slots=1, depth=10, values={p: _ENDS[p] for p in ("BURN_MAX", "COOLDOWN", "DEBOUNCE")},
                in_writes=False),
         Bounds("once", ("ARM", "FIRE", "ABORT", "resend", "PING", "TIME_SET", "SCHED_INSERT") + _TIME + ("reset",),
                slots=1, depth=6, in_writes=False),
         Bounds("attack", ("ARM", "FIRE", "TIME_SET", "PING", "replay", "alter") + _TIME + ("power cut",), slots=1,
                depth=6, in_writes=False))


def named(name, quick=False):
    """The scope called ``name`` (of QUICK with ``quick``)."""
    for b in QUICK if quick else SCOPES:
        if b.name == name:
            return b
    raise KeyError(name)
