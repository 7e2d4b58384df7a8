"""One simulated board running the real firmware, a ground Client on its link, and the
control channel shared by threads (the campaigns inject faults from the link thread).

Short plant and parameter settings keep one full four-slot release to a few seconds. A
board can start from a copy of a prepared state dir (``prepare``: PARAMS set, every slot
resolved STOWED), so that each run does not pay the sector erases of a blank flash.
"""

import os
import shutil
import threading
import time

from firmware import dictionary as d
from ground.client import Client, Match
from ground.errors import GroundError
from sim import BOARD_HEAP
from tests.sim.simproc import Sim

# Plant: a satellite leaves after 0.2 s of current (sigma 20 ms); switches chatter 5 ms.
PLANT = ("--burn-time", "0.2", "--burn-spread", "0.02", "--bounce-ms", "5")
BURN_S = 0.2
# Parameters the campaign sets before a run and checks after it ("parameters intact").
PARAMS = {"ARM_WINDOW": 120, "BURN_MAX": 1000, "RETRIES": 2, "COOLDOWN": 500, "DEBOUNCE": 10,
          "HK_PERIOD": 500, "HK_ENABLED": 1}
# The board's heap budget as the unix port needs it (sim.BOARD_HEAP); `--heap` of the campaign
# CLI or $CAMPAIGN_HEAP (benchmarks) change it, and every figure taken says which heap it ran with.
HEAP = os.environ.get("CAMPAIGN_HEAP", BOARD_HEAP)
POLL_S = 0.02  # physical truth sampling: well under the shortest cooldown (500 ms)


def param_id(name):
    return d.PARAMETER_NAMES.value_of(name)


class Board:
    """A sim with the firmware, its control channel behind a lock, and a poller that notes
    the sim time each satellite physically separated (``released_at``, slot 1..4)."""

    def __init__(self, seed, *args, baud=115200, state_dir=None, vbat=False, fs="lfs"):
        more = (("--state-dir", str(state_dir)) if state_dir else ()) + (("--vbat",) if vbat else ())
        more += ("--fs", fs)
        # The ground's sequence count goes with the board's state: a board started from a copy
        # must not see a request id its records already hold.
        self.seq_file = os.path.join(str(state_dir), "tc_seq") if state_dir else None
        self.sim = Sim(*PLANT, "--baud", str(baud), "--heap", HEAP, *more, *args, app="firmware.app", seed=seed)
        self._lock = threading.Lock()
        self.released_at = {}
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def do(self, cmd, **args):
        with self._lock:
            return self.sim.do(cmd, **args)

    def starts(self):
        return self.do("state")["board"]["starts"]

    def _poll(self):
        while not self._stop.wait(POLL_S):
            try:
                st = self.do("state")
            except (OSError, ValueError, AssertionError):
                return  # the sim is stopping
            for s in st["slots"]:
                if s["released"] and s["slot"] not in self.released_at:
                    self.released_at[s["slot"]] = st["time"]

    def client(self, timeout=5, **kw):
        c = Client(self.sim.ports["link"], timeout=timeout, retries=2, seq_file=self.seq_file, **kw)
        try:
            c.send("PING", timeout=2, retries=5)  # the first bytes may reach a board still booting
        except GroundError:
            c.close()
            raise
        return c

    def alive(self):
        return self.sim.proc.poll() is None

    def close(self):
        self._stop.set()
        self._poller.join(2)
        return self.sim.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def set_params(c):
    for name, value in PARAMS.items():
        c.send("PARAM_SET", param_id(name), value)


def prepare(path, fs="lfs"):
    """A state dir (flash and backup SRAM) with PARAMS set and every slot resolved STOWED."""
    with Board(0, state_dir=path, fs=fs) as board, board.client() as c:
        set_params(c)
        end = time.monotonic() + 10
        while d.UNKNOWN in [fresh_hk(c).values["slot%d" % (s + 1)] for s in range(d.N_SLOTS)]:
            assert time.monotonic() < end, "slots still UNKNOWN after 10 s"
            time.sleep(0.1)


def copy_state(template, path):
    shutil.copytree(template, path, dirs_exist_ok=True)


def read_params(c):
    """{name: value} as the firmware reports them (PARAM_GET)."""
    out = {}
    for name in PARAMS:
        v = c.send("PARAM_GET", param_id(name))
        out[name] = c.await_record(Match("PARAM", id=param_id(name)), timeout=5, since=v.mark).values["value"]
    return out


def fresh_hk(c, timeout=5.0):
    """A one-shot HK report produced after this call."""
    v = c.send("HK_ONE_SHOT", d.HK_SID)
    return c.await_hk(timeout=timeout, since=v.mark)


def wait_running(board, starts, timeout=10.0):
    """Wait until the firmware has started ``starts`` times and its link answers."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = board.do("state")["board"]
        if st["running"] and st["starts"] >= starts:
            return
        time.sleep(0.05)
    raise AssertionError("board did not restart within %.0f s" % timeout)
