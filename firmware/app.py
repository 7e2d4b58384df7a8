"""The application: builds the parts over one Board and runs the main loop.

``run(board)`` never returns. Each iteration feeds the watchdog, advances the
clock, reads whatever the link has into one preallocated buffer, then lets the
switches, the sequencer, the schedule and housekeeping act. In steady state an
iteration allocates nothing (tests/firmware/test_app.py measures it).

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

TICK_MS = const(10)  # longest idle between iterations (a burn is checked this often)
_RX = const(256)  # link bytes read per iteration (idle returns early when bytes arrive)


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
        """One loop iteration."""
        b = self.board
        b.feed()
        self.clock.update()
        n = b.uart.readinto(self._rx)
        if n:
            self.deframer.feed(self._rx, self._on_packet, n)
        self.switches.update(self.seq.judged)
        self.seq.tick()
        self.services.tick()
        self.store.flush()  # what waited for the actuator to go off
        self.hk.led = self.seq.state != SAFE or self.clock.uptime_s & 1 == 1  # steady when armed, else blink
        b.set_led(self.hk.led)
        self.hk.tick()


def run(board):
    """The firmware's entry point on every board: never returns."""
    app = App(board)
    while True:
        app.step()
        board.idle(TICK_MS)
