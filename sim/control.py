"""The control channel: JSON lines over TCP (the protocol is in sim/README.md).

One request per line, one answer per line: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. Slots are 1..4 here and 0..3 in the plant.
"""

import json

from firmware.dictionary import RESET_CAUSES
from sim.plant import N_SLOTS, SLOT_FAULTS, PlantError


class ControlError(Exception):
    """A control request that cannot be honoured; becomes ``{"ok": false, "error": ...}``."""


class Control:
    """The control channel: one JSON request per line, one JSON answer per line."""

    def __init__(self, hw):
        self.hw = hw
        self.commands = {
            "state": self.state, "set": self.set, "inject": self.inject, "clear": self.clear,
            "reset": self.reset, "power_cycle": self.power_cycle, "burns": self.burns,
            "config": self.config, "stow": self.stow,
        }

    async def serve(self, reader, writer):
        while line := await reader.readline():
            writer.write(json.dumps(await self.answer(line)).encode() + b"\n")
            await writer.drain()

    async def answer(self, line):
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ControlError("a request is a JSON object")
            handler = self.commands.get(req.get("cmd"))
            if not handler:
                raise ControlError("unknown cmd %r (%s)" % (req.get("cmd"), ", ".join(self.commands)))
            return {"ok": True, **(await handler(req) or {})}
        except (ControlError, PlantError) as e:
            return {"ok": False, "error": str(e)}
        except (ValueError, TypeError, KeyError) as e:
            return {"ok": False, "error": "bad request: %s" % e}

    async def state(self, req):
        hw, plant, t = self.hw, self.hw.plant, self.hw.now()
        plant.update(t)
        return {
            "time": round(t, 4),
            "board": {"running": hw.running, "starts": hw.starts, "last_reset": hw.last_reset,
                      "watchdog": hw.watchdog, "longest_unfed_ms": hw.longest_unfed_ms, "vbat": hw.vbat},
            "flash": hw.flash_state(),
            "outputs": {"arm": plant.arm, "actuators": [s.actuator for s in plant.slots], "led": plant.led},
            "inputs": dict(plant.inputs),
            "slots": plant.snapshot(t),
            "faults": {"brownout": hw.brownout, "powercut": hw.powercut, "noise": dict(hw.noise.rates)},
            "link": hw.link_state(),
        }

    async def set(self, req):
        if not isinstance(req.get("value"), bool):
            raise ControlError('"value" must be true or false')
        if req.get("input") == "vbat":  # a supply, not a pin: the firmware never reads it
            self.hw.vbat = req["value"]
        else:
            self.hw.plant.set_input(req.get("input"), req["value"], self.hw.now())

    async def inject(self, req):
        name = req.get("fault")
        if name == "brownout":
            self.hw.arm_brownout(req.get("after_ms"), req.get("at"))
        elif name == "powercut":
            self.hw.arm_powercut(req)
        elif name == "noise":
            self._set_noise(req)
        elif name in SLOT_FAULTS or name == "early_release":
            self.hw.plant.inject(name, _slot(req), self.hw.now(), _number(req, "factor", 3.0))
        else:
            raise ControlError("unknown fault %r" % name)

    async def clear(self, req):
        name = req.get("fault")
        if name in (None, "brownout"):
            self.hw.clear_brownout()
        if name in (None, "powercut"):
            self.hw.disarm_powercut()
        if name in (None, "noise"):
            self.hw.noise.rates = dict.fromkeys(self.hw.noise.rates, 0.0)
        if name is None:
            self.hw.plant.clear_all()
        elif name in SLOT_FAULTS:
            self.hw.plant.clear(name, _slot(req))
        elif name not in ("brownout", "powercut", "noise"):
            raise ControlError("unknown fault %r (early_release is undone by stow)" % name)

    def _set_noise(self, req):
        rates = {k: _number(req, k, 0.0) for k in self.hw.noise.rates}
        if not all(0 <= r <= 1 for r in rates.values()):
            raise ControlError("noise rates are probabilities, 0..1")
        self.hw.noise.rates = rates

    async def reset(self, req):
        await self.hw.restart(RESET_CAUSES.index("HARD"))

    async def power_cycle(self, req):
        off_ms = _number(req, "off_ms", 100)
        if off_ms < 0:
            raise ControlError('"off_ms" must be >= 0')
        await self.hw.restart(RESET_CAUSES.index("POWER_ON"), off_ms / 1000)

    async def burns(self, req):
        return {"burns": self.hw.plant.burns}

    async def config(self, req):
        self.hw.plant.configure(**{k: v for k, v in req.items() if k != "cmd"})
        return {"config": self.hw.plant.config}

    async def stow(self, req):
        self.hw.plant.stow(_slot(req))


def _slot(req):
    slot = req.get("slot")
    if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= N_SLOTS:
        raise ControlError('"slot" must be 1..%d' % N_SLOTS)
    return slot - 1


def _number(req, key, default):
    value = req.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError('"%s" must be a number' % key)
    return value
