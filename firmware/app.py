"""The application: builds the parts over one Board and runs the main loop.

``run(board)`` never returns. Each iteration feeds the watchdog, advances the
clock, reads what the link has into one preallocated buffer (once no report
waits), samples the switches and lets the sequencer act, all before any write,
so every TICK_MS whatever the link carries; then it writes the reports that
wait and lets the schedule and housekeeping act. It idles what is left of
TICK_MS after its writes, which block for their line time within a budget
(firmware/telemetry.py). In steady state an iteration allocates nothing
(tests/firmware/test_app.py measures it).

Boot: every record is loaded (a bad one: defaults + RECORD_CORRUPT), slots
caught FIRING by the reset become UNKNOWN, the boot is counted and a BOOT event
says so. The controller starts SAFE with every output off; nothing fires
until a new FIRE is accepted under every inhibit.
"""

from micropython import const

from firmware.auth import Auth
from firmware.clock import Clock
from firmware.framing import Deframer
from firmware.hk import Housekeeping
from firmware.params import Params
from firmware.schedule import Schedule
from firmware.sequencer import Sequencer
from firmware.services import Services
from firmware.state import State
from firmware.store import Store
from firmware.switches import Switches
from firmware.tables import EV_BOOT, SAFE
from firmware.telemetry import Telemetry
from firmware.verification import Verification

TICK_MS = const(10)  # loop period when the writes leave time (a burn is checked this often)
_RX = const(32)  # link bytes read per iteration (idle returns early when bytes arrive): 3 PINGs at most
# (15 bytes each, one begun in the previous read), whose replies wait in the telemetry FIFO


class App:
    def __init__(self, board):
        self.board = board
        self.reset_cause = board.reset_cause()
        self.clock = Clock(board)
        self.tm = Telemetry(board, self.clock)
        self.store = store = Store(board, self.tm)
        self.state = State(store, self.tm)
        self.params = Params(store, self.tm)
        self.schedule = Schedule(store, self.tm)
        self.auth = Auth(board, store, self.tm)
        self.verification = Verification(self.state, self.tm, self.auth)
        self.switches = Switches(board, self.clock, self.state, self.params, self.tm)
        self.seq = Sequencer(board, self.clock, self.state, self.params, self.switches, self.verification, self.tm)
        self.deframer = Deframer()
        self.hk = Housekeeping(board, self.clock, self.state, self.params, self.seq, self.switches, self.schedule,
                               self.deframer, self.verification, self.tm, self.reset_cause)
        self.services = Services(board, self.clock, self.params, self.schedule, self.seq, self.hk, self.verification,
                                 self.tm)
        self._rx = bytearray(_RX)
        self._on_packet = self.services.on_packet  # bound once: no allocation per call
        self.state.boot()
        self.tm.event(EV_BOOT, self.state.boot_count, self.reset_cause)

    def step(self):
        """One loop iteration; returns the ms to idle before the next (its writes took the rest)."""
        b = self.board
        b.feed()
        self.clock.update()
        tm = self.tm
        if not tm.queued:  # else the replies to the last read still wait: commands wait in the UART
            n = b.uart.readinto(self._rx)
            if n:
                self.deframer.feed(self._rx, self._on_packet, n)
        self.switches.update(self.seq.judged)  # before any write: every TICK_MS whatever the link carries
        self.seq.tick()
        tm.begin(b.burning() >= 0)  # the reports so far waited: written from here on
        self.services.tick()
        self.store.flush()  # what waited for the actuator to go off
        self.hk.led = self.seq.state != SAFE or self.clock.uptime_s & 1 == 1  # steady when armed, else blink
        b.set_led(self.hk.led)
        self.hk.tick()
        return tm.done(TICK_MS)


def run(board):
    """The firmware's entry point on every board: never returns."""
    app = App(board)
    while True:
        board.idle(app.step())
