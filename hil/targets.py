"""Target adapters: the world around the board, as the HIL scenarios drive it.

The scenarios talk to the firmware over the link (ground's client) and to
everything else (inhibit inputs, satellites, faults, reset, output lines)
through one of these adapters, so the same .robot files run on both targets:

    SimTarget     python -m sim, driven through its JSON-lines control channel
                  (sim/README.md); its plant model plays the satellites.
    RenodeTarget  the STM32 firmware inside Renode, driven by monitor commands
                  (hil/renode/deployer.repl names every peripheral used here);
                  Renode has no plant model, so the adapter plays the satellites.

Primitives (slots are 1..4, as the operator numbers them):

    link_url                       pyserial URL of the ground link
    set_input(name, on)            an inhibit input: "rbf_removed" or "permit"
    stick_switch(slot)             fault: the separation switch reads stowed for good
    play_satellite(slot, timeout)  after a FIRE: the satellite separates once burnt
    reset()                        reset the MCU; the deployer keeps its physical state
    output_should_be(name, on, timeout)      an output line ("arm", "actuator1".."actuator4")
    actuator_should_stay_off(slot, seconds)  no burn of ``slot`` for ``seconds``

Renode only (time and sensors of the emulated MCU, which the sim does not model):

    burn_should_start(slot, timeout)         pause the emulation as the actuator turns on
    burn_should_end_between(slot, lo, hi)    on for ``lo`` s of virtual time, off by ``hi``
    set_temperature_sensor(cal1, cal2, raw)  calibration words and ADC sample

A primitive that cannot reach its target raises TargetError: a scenario that
cannot drive the board fails, it never passes by doing nothing.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import NamedTuple

INPUTS = ("rbf_removed", "permit")
OUTPUTS = ("arm", "actuator1", "actuator2", "actuator3", "actuator4")
SLOT_SWITCHES = ("switch1", "switch2", "switch3", "switch4")
N_SLOTS = 4
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_POLL = 0.02  # s between two looks at the sim's state while waiting for a change
_STOP_GRACE = 5.0  # s the sim gets to exit after Ctrl-C before it is killed
_ERROR_TAIL = 2000  # characters of the sim's stderr quoted when it fails
# STM32F42x system memory and ADC (MicroPython's adc.c reads these; cited in hil/README.md)
TS_CAL1 = "0x1FFF7A2C"  # temperature sensor raw reading at 30 degC
TS_CAL2 = "0x1FFF7A2E"  # ... at 110 degC
TEMPERATURE_CHANNEL = 18


class TargetError(AssertionError):
    """The target did not do or show what a scenario asked; the message says what."""

    ROBOT_SUPPRESS_NAME = True  # Robot shows the message alone, as for a failed assertion


def _check_slot(slot):
    slot = int(slot)
    if not 1 <= slot <= N_SLOTS:
        raise TargetError("slot %d is not one of 1..%d" % (slot, N_SLOTS))
    return slot


def _check_name(name, names):
    if name not in names:
        raise TargetError("%r is not one of %s" % (name, ", ".join(names)))
    return name


class SimTarget:
    """``python -m sim`` as a subprocess, driven through its control channel.

    ``options`` are extra command-line options of the sim (``--seed``, plant
    settings). Its stdout and stderr go to files in the folder ``workdir``, so a
    sim that dies explains itself in the failure message. ``command`` starts the
    sim (tests start a stand-in).
    """

    COMMAND = (sys.executable, "-m", "sim")

    def __init__(self, options, workdir, start_timeout=20.0, command=COMMAND):
        self.command = tuple(command)
        self.options = tuple(str(o) for o in options)
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.link_url = None
        self._proc = None
        self._control = None
        self._burns_seen = [0] * N_SLOTS  # burns of each slot that play_satellite has seen

    # --- lifecycle ---------------------------------------------------------
    def start(self):
        cmd = [*self.command, "--link-port", "0", "--control-port", "0", *self.options]
        out_path = os.path.join(self.workdir, "sim.out")
        with open(out_path, "w") as out, open(os.path.join(self.workdir, "sim.err"), "w") as err:
            self._proc = subprocess.Popen(cmd, cwd=_REPO, stdout=out, stderr=err)  # it keeps its own copies
        lines = self._banner(out_path)
        self.link_url = lines["link"]
        host, port = lines["control"].removeprefix("tcp://").rsplit(":", 1)
        try:
            self._control = socket.create_connection((host, int(port)), timeout=self.start_timeout).makefile("rwb")
        except OSError as e:
            raise TargetError("cannot reach the sim's control channel at %s (%s); its stderr:\n%s"
                              % (lines["control"], e, self.errors()))
        return self

    def _banner(self, path):
        """The ``link:`` and ``control:`` lines the sim prints first."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            with open(path) as f:
                found = dict(line.strip().split(": ", 1) for line in f if ": " in line)
            if "link" in found and "control" in found:
                return found
            if self._proc.poll() is not None:
                raise TargetError("the sim exited with status %d before it started:\n%s"
                                  % (self._proc.returncode, self.errors()))
            time.sleep(_POLL)
        raise TargetError("the sim printed no link/control lines within %.0f s" % self.start_timeout)

    def errors(self):
        """The end of what the sim wrote to stderr."""
        with open(os.path.join(self.workdir, "sim.err")) as f:
            return f.read()[-_ERROR_TAIL:]

    def stop(self):
        """Stop the sim (Ctrl-C, then kill); TargetError if it had died on its own."""
        if self._control:
            self._control.close()
            self._control = None
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the sim exits 0 on Ctrl-C
            try:
                proc.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return
        if proc.returncode not in (0, -signal.SIGINT):
            raise TargetError("the sim died with status %d during the test:\n%s" % (proc.returncode, self.errors()))

    # --- control channel ---------------------------------------------------
    def request(self, cmd, **fields):
        """One control-channel request; its answer (a dict), or TargetError."""
        if self._control is None:
            raise TargetError("the sim is not running")
        self._control.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
        self._control.flush()
        line = self._control.readline()
        if not line:
            raise TargetError("the sim closed its control channel:\n%s" % self.errors())
        answer = json.loads(line)
        if not answer.get("ok"):
            raise TargetError("sim refused %s %s: %s" % (cmd, fields, answer.get("error")))
        return answer

    def state(self):
        return self.request("state")

    # --- primitives ----------------------------------------------------------
    def set_input(self, name, on):
        self.request("set", input=_check_name(name, INPUTS), value=bool(on))

    def stick_switch(self, slot):
        self.request("inject", fault="stuck_closed", slot=_check_slot(slot))

    def play_satellite(self, slot, timeout):
        """Wait for a new burn of ``slot``; the sim's plant separates the satellite by itself."""
        slot = _check_slot(slot)
        deadline = time.monotonic() + float(timeout)
        while len(self._burns(slot)) <= self._burns_seen[slot - 1]:
            if time.monotonic() > deadline:
                raise TargetError("the actuator of slot %d did not burn within %s s" % (slot, timeout))
            time.sleep(_POLL)
        self._burns_seen[slot - 1] = len(self._burns(slot))

    def reset(self):
        self.request("reset")

    def _output(self, state, name):
        outputs = state["outputs"]
        if name == "arm":
            return outputs["arm"]
        return outputs["actuators"][int(name.removeprefix("actuator")) - 1]

    def output_should_be(self, name, on, timeout):
        name = _check_name(name, OUTPUTS)
        deadline = time.monotonic() + float(timeout)
        while self._output(self.state(), name) != bool(on):
            if time.monotonic() > deadline:
                raise TargetError("output %s did not turn %s within %s s" % (name, "on" if on else "off", timeout))
            time.sleep(_POLL)

    def _burns(self, slot):
        return [b for b in self.request("burns")["burns"] if b["slot"] == slot]

    def actuator_should_stay_off(self, slot, seconds):
        slot = _check_slot(slot)
        before = len(self._burns(slot))
        deadline = time.monotonic() + float(seconds)
        while time.monotonic() < deadline:
            burns = self._burns(slot)
            if len(burns) != before or (burns and burns[-1]["end"] is None):
                raise TargetError("the actuator of slot %d burnt within %s s: %s" % (slot, seconds, burns[-1]))
            time.sleep(_POLL)


class RenodeTarget:
    """The Renode board of hil/renode/deployer.resc, driven by monitor commands.

    ``execute(command) -> str`` runs one monitor command (under renode-test: the
    ``Execute Command`` keyword); it raises when Renode reports an error, so every
    assertion below fails the test when it is not met. Peripheral paths come from
    the .repl (``repl``), the one place that wires names to pins.
    """

    def __init__(self, execute, link_url, repl):
        self.execute = execute
        self.link_url = link_url
        self.paths = {p.name: p.path for p in repl_peripherals(repl)}
        missing = [n for n in INPUTS + OUTPUTS + SLOT_SWITCHES if n not in self.paths]
        if missing:
            raise TargetError("%s does not declare %s" % (repl, ", ".join(missing)))
        self._stuck = set()

    @staticmethod
    def _tester(name):
        return name + "_tester"

    def start(self):
        """Create one LED tester per output line (emulation CreateLEDTester)."""
        for name in OUTPUTS:
            self.execute('emulation CreateLEDTester "%s" %s' % (self._tester(name), self.paths[name]))
        return self

    def set_input(self, name, on):
        self.execute("%s %s" % (self.paths[_check_name(name, INPUTS)], "Press" if on else "Release"))

    def stick_switch(self, slot):
        self._stuck.add(_check_slot(slot))

    def play_satellite(self, slot, timeout):
        """Wait for the slot's actuator to burn, then separate (unless its switch is stuck)."""
        slot = _check_slot(slot)
        self.output_should_be("actuator%d" % slot, True, timeout)
        if slot not in self._stuck:
            self.execute("%s Press" % self.paths[SLOT_SWITCHES[slot - 1]])

    def reset(self):
        self.execute("machine Reset")
        self.execute("start")

    def output_should_be(self, name, on, timeout):
        name = _check_name(name, OUTPUTS)
        self.execute("%s AssertState %s %s" % (self._tester(name), "true" if on else "false", float(timeout)))

    def actuator_should_stay_off(self, slot, seconds):
        tester = self._tester("actuator%d" % _check_slot(slot))
        self.execute("%s AssertAndHoldState false 0 %s" % (tester, float(seconds)))

    def burn_should_start(self, slot, timeout):
        """Pause the emulation at the instant the slot's actuator turns on (LEDTester's
        pauseEmulation), so that what follows is timed from that edge in virtual time."""
        tester = self._tester("actuator%d" % _check_slot(slot))
        self.execute("%s AssertState false 0" % tester)  # off now: the edge is still to come
        self.execute("%s AssertState true %s true" % (tester, float(timeout)))

    def burn_should_end_between(self, slot, lo, hi):
        """From the paused edge: on for ``lo`` s, then off within ``hi`` s; the emulation runs on."""
        tester = self._tester("actuator%d" % _check_slot(slot))
        self.execute("%s AssertAndHoldState true 0 %s true" % (tester, float(lo)))
        self.execute("%s AssertState false %s true" % (tester, float(hi) - float(lo)))
        self.execute("start")

    def set_temperature_sensor(self, ts_cal1, ts_cal2, sample):
        """The words MicroPython reads as TS_CAL1/TS_CAL2, and the ADC's temperature channel."""
        self.execute("sysbus WriteWord %s %d" % (TS_CAL1, int(ts_cal1)))
        self.execute("sysbus WriteWord %s %d" % (TS_CAL2, int(ts_cal2)))
        self.execute("sysbus.adc1 FeedSample %d %d -1" % (int(sample), TEMPERATURE_CHANNEL))


class Peripheral(NamedTuple):
    """One button or LED of the .repl: ``name: Miscellaneous.KIND @ gpioPortX PIN``.

    A comment ``// hil-alias: NAME = gpioPortX.DEVICE PIN`` gives a role to a button
    the platform already has on that pin (``device``; else the device is ``name``).
    """

    name: str
    kind: str  # "Button" or "LED"
    port: str  # "gpioPortE"
    pin: int
    device: str

    @property
    def path(self):
        return "sysbus.%s.%s" % (self.port, self.device)

    @property
    def board_pin(self):
        """The pin as MicroPython's stm32 port names it: ``E2``."""
        return "%s%d" % (self.port[-1], self.pin)


_DECLARATION = re.compile(r"^(\w+):\s*Miscellaneous\.(Button|LED)\s*@\s*(gpioPort[A-K])\s+(\d+)", re.M)
_ALIAS = re.compile(r"^// hil-alias: (\w+) = (gpioPort[A-K])\.(\w+) (\d+)$", re.M)


def repl_peripherals(path):
    """Every button and LED registered on a GPIO port in the .repl at ``path``, and the aliases."""
    with open(path) as f:
        text = f.read()
    declared = [Peripheral(m[1], m[2], m[3], int(m[4]), m[1]) for m in _DECLARATION.finditer(text)]
    return declared + [Peripheral(m[1], "Button", m[2], int(m[4]), m[3]) for m in _ALIAS.finditer(text)]
