"""The NUCLEO-F429ZI board: the only module that imports ``machine`` and ``pyb``.

Pins (Arduino names on the Zio connector; none shared with Ethernet, USB or the
REPL's USART3)::

    role                   pin   Zio    level
    actuator, slot 1       PE13  D3     out, 1 = current (drives the squib/burn-wire FET); TIM1_CH3
    actuator, slot 2       PE11  D5     out; TIM1_CH2
    actuator, slot 3       PE9   D6     out; TIM1_CH1
    actuator, slot 4       PE14  D38    out; TIM1_CH4
    arm-enable (master)    PF13  D7     out, 1 = actuator supply switch closed
    arm-enable read-back   PF5   A4     in, pull-down, 1 = supply present behind the switch
    separation switch 1-4  PA3 PC0 PC3 PF3 (A0-A3)  in, pull-up, 1 = released (contact opened)
    lander permit          PF12  D8     in, pull-down, 1 = lander permits deployment
    RBF removed            PF15  D2     in, pull-down, 1 = plug removed
    status LED             PG2   D49    out, 1 = on (not LD1-LD3: MicroPython drives those itself)
    ground link UART2      PD5 TX, PD6 RX (Zio CN9), 115200 8N1 by default (``baud``)

Levels are chosen so that a broken wire is the safe reading: permit, RBF and
the arm read-back fall to 0 (inhibit present); a separation switch floats to
"released", so its slot is never fired (EARLY_RELEASE) rather than fired blind.

The constructor drives every output off before anything else runs. Two cuts end a
burn at ``max_ms`` with no help from the loop, and the independent watchdog resets
the MCU if the loop stops feeding it:

- the hardware: the four actuator pins are TIM1's four channels (alternate function
  1). A burn hands its pin to TIM1 and starts one pulse (one-pulse mode, channel in
  PWM mode 2): on after one 0.2 ms tick, off when the counter overflows at ``max_ms``,
  whatever the CPU does, a flash erase stalling it included. At rest, and after a
  cut, the pins are plain outputs at 0. A soft reset mid-burn stops TIM1 and leaves
  the pin undriven until the constructor runs: the FET's gate pull-down, which the
  board needs anyway from a reset to the constructor, holds it off.
- the software: TIM2 (32 bits) armed as a one-shot whose hard interrupt takes every
  actuator pin back as an output at 0; it runs from flash, so a stall delays it.

The design and its RM0090 facts: docs/ARCHITECTURE.md ("The hardware burn cutoff"); the
MicroPython and Renode facts these rely on are cited in hil/README.md.

Storage (docs/ARCHITECTURE.md, "Persistent state"): records live on the internal
flash filesystem at /flash (sectors 1-4, ports/stm32/boards/stm32f429.ld) and in the
4 KiB backup SRAM at 0x4002 4000, which keeps its content across resets and, with
VBAT supplied, across a power loss. RM0090 (section 5.1.2): its clock is RCC_AHB1ENR
BKPSRAMEN, writes need PWR_CR DBP (the backup domain's write protection, itself
behind RCC_APB1ENR PWREN), and retention on VBAT needs the backup regulator, PWR_CSR
BRE, ready when BRR reads 1. ``stm.mem32`` reaches those registers; the SRAM is then
a bytearray at its address (``uctypes.bytearray_at``: no copy).
"""

import gc
import time

import machine
import pyb
import stm
import uctypes
import vfs
from micropython import const

from firmware.tables import TEMP_INVALID

_ACTUATORS = ("PE13", "PE11", "PE9", "PE14")
_CHANNELS = (2, 1, 0, 3)  # each actuator's TIM1 channel, from 0
_SWITCHES = ("PA3", "PC0", "PC3", "PF3")
# Both cutoff timers count 0.2 ms ticks: TIM1's counter has 16 bits, BURN_MAX (10 s) is 50,000.
_TICK_HZ = const(5000)
# TIM1 registers (RM0090, TIM1&TIM8 chapter; bits: STM32CubeF4 CMSIS stm32f429xx.h)
_OPM = const(0x8)  # CR1: one-pulse mode, the update event clears CEN
_CEN = const(0x1)  # CR1: counter enable
_CC_ON = const(0x1111)  # CCER: CC1E..CC4E, outputs enabled, active high
_MOE = const(0x8000)  # BDTR: main output enable, without which an advanced timer drives nothing
_LOW = const(0x4040)  # CCMR1/CCMR2: both channels' OCxM = 100, forced inactive
_TO_PWM2 = const(0x30)  # ORed into a channel's OCxM: 100 -> 111, PWM mode 2 (active while CNT >= CCR)
_AF_TIM1 = const(1)
# The loop feeds every 10 ms, the store before each flash write: one record write can freeze the
# board for up to 3 sector write-backs, 2.7 s each at worst (64 KiB erase + program, datasheet
# maximum); the sim measures the longest time unfed (docs/RELIABILITY.md, wear). IWDG max: 32 s.
_WDT_MS = const(16000)
# machine.reset_cause() value -> index into dictionary.RESET_CAUSES
_CAUSES = (
    (machine.PWRON_RESET, 0),
    (machine.HARD_RESET, 1),
    (machine.WDT_RESET, 2),
    (machine.DEEPSLEEP_RESET, 3),
    (machine.SOFT_RESET, 4),
)
_CAUSE_UNKNOWN = const(6)
_T_MIN = const(-40)  # degC: what the STM32F429's sensor measures; outside it, the reading is wrong
_T_MAX = const(125)
# Backup SRAM (register bits: STM32CubeF4 CMSIS stm32f429xx.h)
_BKPSRAM_FROM_RCC = const(0x800)  # RM0090 memory map: BKPSRAM at 0x4002 4000, RCC at 0x4002 3800
_BACKUP_SIZE = const(4096)
_PWREN = const(1 << 28)  # RCC_APB1ENR
_BKPSRAMEN = const(1 << 18)  # RCC_AHB1ENR
_DBP = const(1 << 8)  # PWR_CR
_BRE = const(1 << 9)  # PWR_CSR
_BRR = const(1 << 3)  # PWR_CSR
_BRR_POLLS = const(10000)  # a few ms: a regulator that never reports ready must not hang the boot


class _Link:
    """UART2 with the contract's ``write(buf, n)``."""

    def __init__(self, baud):
        self.baud = baud
        self._u = machine.UART(2, baud, timeout=0, rxbuf=1024)
        self._buf = None
        self._mv = memoryview(b"")

    def readinto(self, buf):
        """What has arrived, up to ``len(buf)``: asking for more makes the port wait ``timeout_char``
        (2 ms or more) for a byte that may not come (sim/README.md, the audit: UART read)."""
        n = self._u.any()
        return self._u.readinto(buf, n if n < len(buf) else len(buf)) if n else 0

    def write(self, buf, n):
        if buf is not self._buf:  # the firmware always writes from its one frame buffer
            self._buf = buf
            self._mv = memoryview(buf)
        self._u.write(self._mv[:n])

    def any(self):
        return self._u.any()


def _backup_sram():
    """Enable the backup SRAM (clock, write access, regulator) and map it."""
    stm.mem32[stm.RCC + stm.RCC_APB1ENR] |= _PWREN
    stm.mem32[stm.PWR + stm.PWR_CR] |= _DBP
    stm.mem32[stm.RCC + stm.RCC_AHB1ENR] |= _BKPSRAMEN
    stm.mem32[stm.PWR + stm.PWR_CSR] |= _BRE  # in the backup domain: after DBP
    for _ in range(_BRR_POLLS):
        if stm.mem32[stm.PWR + stm.PWR_CSR] & _BRR:
            break
    return uctypes.bytearray_at(stm.RCC + _BKPSRAM_FROM_RCC, _BACKUP_SIZE)


def _littlefs(root):
    """True if ``root`` is a littlefs mount (vfs.mount() lists mounts from MicroPython 1.25 on)."""
    lfs = getattr(vfs, "VfsLfs2", None)
    try:
        return lfs is not None and any(path == root and isinstance(fs, lfs) for fs, path in vfs.mount())
    except TypeError:  # an older MicroPython: treat it as FAT, whose writes go through a temp file
        return False


class Board:
    fs_root = "/flash"

    def __init__(self, baud=115200):
        self._act = tuple(machine.Pin(p, machine.Pin.OUT, value=0) for p in _ACTUATORS)
        self._arm = machine.Pin("PF13", machine.Pin.OUT, value=0)
        self._arm_rb = machine.Pin("PF5", machine.Pin.IN, machine.Pin.PULL_DOWN)
        self._sw = tuple(machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP) for p in _SWITCHES)
        self._permit = machine.Pin("PF12", machine.Pin.IN, machine.Pin.PULL_DOWN)
        self._rbf = machine.Pin("PF15", machine.Pin.IN, machine.Pin.PULL_DOWN)
        self._led = machine.Pin("PG2", machine.Pin.OUT, value=0)
        self._on = -1
        self._tim = pyb.Timer(2)
        self._tim.deinit()
        self._prescaler = self._tim.source_freq() // _TICK_HZ - 1
        self._on_cutoff = self._cutoff  # bound once: the interrupt must not allocate
        t1 = pyb.Timer(1)  # clocks TIM1 and loads its prescaler: 168 MHz source, 0.2 ms ticks
        t1.init(prescaler=t1.source_freq() // _TICK_HZ - 1, period=0xFFFF)
        tim1 = stm.TIM1
        stm.mem32[tim1 + stm.TIM_CR1] = _OPM  # stopped; each burn starts one pulse
        stm.mem32[tim1 + stm.TIM_CCER] = _CC_ON  # reaches a pin only while the pin is in AF1
        stm.mem32[tim1 + stm.TIM_BDTR] = _MOE
        self._wdt = machine.WDT(timeout=_WDT_MS)
        self.uart = _Link(baud)
        self._adc = pyb.ADCAll(12, 0x70000)  # internal channels only
        self.backup = _backup_sram()
        self.fs_atomic = _littlefs(self.fs_root)

    # --- time -----------------------------------------------------------------
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def idle(self, ms):
        t0 = time.ticks_ms()
        while not self.uart.any() and time.ticks_diff(time.ticks_ms(), t0) < ms:
            pyb.wfi()  # SysTick wakes this every millisecond

    # --- inputs ---------------------------------------------------------------
    def rbf_removed(self):
        return self._rbf.value() == 1

    def permit(self):
        return self._permit.value() == 1

    def switch(self, slot):
        return self._sw[slot].value() == 1

    def arm_line(self):
        return self._arm_rb.value() == 1

    # --- outputs --------------------------------------------------------------
    def set_arm(self, on):
        self._arm.value(1 if on else 0)

    def burn(self, slot, max_ms):
        self.cut()
        last = max_ms * (_TICK_HZ // 1000) - 1  # both timers overflow after last + 1 ticks: max_ms
        self._tim.init(prescaler=self._prescaler, period=last, callback=self._on_cutoff)
        c = _CHANNELS[slot]
        tim1, mem = stm.TIM1, stm.mem32
        mem[tim1 + stm.TIM_CR1] = _OPM  # stopped (the cut may have left a pulse running)
        mem[tim1 + stm.TIM_CCMR1] = mem[tim1 + stm.TIM_CCMR2] = _LOW  # every channel's output low
        mem[tim1 + stm.TIM_ARR] = last  # CR1 ARPE is off: takes effect now
        mem[tim1 + stm.TIM_CNT] = 0
        mem[tim1 + stm.TIM_CCR1 + 4 * c] = 1
        mem[tim1 + (stm.TIM_CCMR2 if c > 1 else stm.TIM_CCMR1)] = _LOW | _TO_PWM2 << 8 * (c & 1)
        self._on = slot
        self._act[slot].init(machine.Pin.ALT, alt=_AF_TIM1)  # TIM1 drives it: low until the pulse
        mem[tim1 + stm.TIM_CR1] = _OPM | _CEN  # the pulse; TIM1 alone ends it at max_ms

    def cut(self):
        self._all_off()
        self._tim.deinit()

    def _cutoff(self, tim):
        """Timer interrupt: no allocation (a loop over a tuple iterates in the frame, not on the heap)."""
        self._all_off()
        tim.callback(None)

    def _all_off(self):
        """Every actuator pin back from TIM1 to an output at 0 (``value`` writes BSRR first)."""
        for a in self._act:
            a.init(machine.Pin.OUT, value=0)
        self._on = -1

    def burning(self):
        return self._on

    def set_led(self, on):
        self._led.value(1 if on else 0)

    # --- system ---------------------------------------------------------------
    def feed(self):
        self._wdt.feed()

    def reset_cause(self):
        c = machine.reset_cause()
        for value, index in _CAUSES:
            if value == c:
                return index
        return _CAUSE_UNKNOWN

    def temperature(self):
        """0.1 degC, or TEMP_INVALID: MicroPython's reading is NaN when the calibration words
        are blank, and wild when the ADC answers nothing; NaN fails both comparisons."""
        t = self._adc.read_core_temp()
        if _T_MIN <= t <= _T_MAX:
            return int(t * 10)
        return TEMP_INVALID

    def heap_free(self):
        return gc.mem_free()

    def reset(self):
        machine.reset()
