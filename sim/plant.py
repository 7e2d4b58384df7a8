"""The deployer's physics: actuators, satellites, separation switches and their faults.

Pure and clocked from outside: methods take the sim time ``t`` (seconds), so the same
seed and the same calls give the same draws. Slots are 0..3 here (the control channel
numbers them 1..4 and checks them). The plant survives firmware resets: only the hardware
(sim/hardware.py) decides when the board dies, and then calls ``all_off``.

Per slot::

    actuator output ─┐
    arm-enable line ─┤ all on: current ──(continuous for the drawn burn time)──> separated
    RBF removed ─────┤                                                           │
    lander permit ───┘                        switch: chatters for bounce_ms, then reads released
"""

import random

N_SLOTS = 4
SLOT_FAULTS = ("stuck_closed", "stuck_open", "open_circuit", "slow_release")
_MIN_BURN = 0.01  # s: a drawn burn time never goes below this, whatever the spread
_BOUNCE_GAP = (0.0005, 0.004)  # s: range of the interval between two chatters


class PlantError(ValueError):
    """A request the plant cannot honour (bad slot, fault or value); the message says which."""


class Slot:
    def __init__(self, rng):
        self.rng = rng
        self.actuator = False
        self.released_at = None  # sim time of separation, None while stowed
        self.chatter = ()  # switch toggle times after separation
        self.powered_since = None
        self.needed = 0.0  # s of continuous current this burn needs
        self.faults = {}  # name -> argument (slow_release: factor)

    def switch(self, t):
        if "stuck_closed" in self.faults:
            return False
        if "stuck_open" in self.faults or (self.released_at is not None and t >= self.chatter[-1]):
            return True
        if self.released_at is None:
            return False
        return sum(1 for c in self.chatter if c <= t) % 2 == 0  # chatter[0] is the separation

    def separate(self, t, bounce):
        self.released_at = t
        chatter = [t]
        while chatter[-1] < t + bounce:
            chatter.append(chatter[-1] + self.rng.uniform(*_BOUNCE_GAP))
        if len(chatter) % 2 == 0:  # end on a "released" reading
            chatter.append(chatter[-1] + _BOUNCE_GAP[0])
        self.chatter = tuple(chatter)


class Plant:
    def __init__(self, seed=None, burn_time=1.0, burn_spread=0.05, bounce_ms=20):
        self.config = {"burn_time": burn_time, "burn_spread": burn_spread, "bounce_ms": bounce_ms}
        self.slots = [Slot(random.Random("%s:slot%d" % (seed, i))) for i in range(N_SLOTS)]
        self.inputs = {"rbf_removed": True, "permit": True}
        self.arm = False
        self.led = False
        self.burns = []  # {"slot", "start", "end", "end_by", "powered"}, slot 1..4

    # --- outputs driven by the firmware ------------------------------------------
    def set_arm(self, on, t):
        self.arm = on
        self.update(t)

    def burn(self, slot, t):
        s = self.slots[slot]
        if s.actuator:
            return
        s.actuator = True
        s.needed = self._draw_burn_time(s)
        self.burns.append({"slot": slot + 1, "start": t, "end": None, "end_by": None, "powered": False})
        self.update(t)

    def cut(self, t, why):
        """Every actuator off; ``why`` ("firmware", "cutoff", "reset") goes in the history."""
        self.update(t)
        for s in self.slots:
            s.actuator = False
            s.powered_since = None
        for b in self.burns:
            if b["end"] is None:
                b["end"] = t
                b["end_by"] = why

    def all_off(self, t):
        """Reset or power loss: every output goes low."""
        self.cut(t, "reset")
        self.arm = self.led = False

    # --- the world ------------------------------------------------------------------
    def set_input(self, name, value, t):
        if name not in self.inputs:
            raise PlantError("unknown input %r (rbf_removed, permit)" % name)
        self.inputs[name] = bool(value)
        self.update(t)

    def inject(self, name, slot, t, factor=3.0):
        s = self.slots[slot]
        if name == "early_release":
            if s.released_at is None:
                s.separate(t, self.config["bounce_ms"] / 1000)
        elif name in SLOT_FAULTS:
            if name == "slow_release" and not factor > 0:
                raise PlantError("slow_release factor must be > 0")
            s.faults[name] = factor if name == "slow_release" else True
        else:
            raise PlantError("unknown slot fault %r" % name)

    def clear(self, name, slot):
        if name not in SLOT_FAULTS:
            raise PlantError("unknown slot fault %r" % name)
        self.slots[slot].faults.pop(name, None)

    def clear_all(self):
        for s in self.slots:
            s.faults.clear()

    def stow(self, slot):
        s = self.slots[slot]
        s.released_at = None
        s.chatter = ()

    def configure(self, **settings):
        for k, v in settings.items():
            if k not in self.config:
                raise PlantError("unknown setting %r (%s)" % (k, ", ".join(self.config)))
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise PlantError("%s must be a number >= 0" % k)
        self.config.update(settings)

    def update(self, t):
        """Advance to ``t``: current flow and separations."""
        for i, s in enumerate(self.slots):
            if self._powered(s):
                if s.powered_since is None:
                    s.powered_since = t
                    self._open_burn(i)["powered"] = True
                if s.released_at is None and t - s.powered_since >= s.needed:
                    s.separate(s.powered_since + s.needed, self.config["bounce_ms"] / 1000)
            else:
                s.powered_since = None

    # --- readings ---------------------------------------------------------------------
    def switches(self, t):
        return [s.switch(t) for s in self.slots]

    def snapshot(self, t):
        return [
            {"slot": i + 1, "released": s.released_at is not None, "switch": s.switch(t),
             "actuator": s.actuator, "powered": s.powered_since is not None, "faults": sorted(s.faults)}
            for i, s in enumerate(self.slots)
        ]

    # --- internals ----------------------------------------------------------------------
    def _powered(self, s):
        return (s.actuator and self.arm and self.inputs["rbf_removed"] and self.inputs["permit"]
                and "open_circuit" not in s.faults)

    def _draw_burn_time(self, s):
        c = self.config
        drawn = max(_MIN_BURN, s.rng.gauss(c["burn_time"], c["burn_spread"]))
        return drawn * s.faults.get("slow_release", 1.0)

    def _open_burn(self, slot):
        return next(b for b in reversed(self.burns) if b["slot"] == slot + 1 and b["end"] is None)
