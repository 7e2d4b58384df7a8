"""firmware/board_nucleo.py over stand-ins for MicroPython's ``machine``, ``pyb``, ``stm``,
``uctypes`` and ``vfs``: the temperature conversion, the two cutoffs (TIM1's pulse on the
actuator pin, TIM2's interrupt), pins nobody else drives, and the backup SRAM's setup."""

import gc
import sys

MP = sys.implementation.name == "micropython"
SOURCE_FREQ = {1: 168000000, 2: 84000000}  # NUCLEO_F429ZI: TIM1 APB2 (84 MHz) x 2, TIM2 APB1 (42 MHz) x 2
ACTUATORS = ("PE13", "PE11", "PE9", "PE14")
NAN = float("nan")
INF = float("inf")


class Pin:
    """A pin's output: ODR in OUT mode, the TIM1 channel's output in AF1 (stm32f429_af.csv),
    None (undriven) in AF1 on a pin without a TIM1 channel or while TIM1 drives nothing."""

    OUT, IN, ALT, PULL_UP, PULL_DOWN = 1, 0, 2, 1, 2
    TIM1_CH = {"PE9": 0, "PE11": 1, "PE13": 2, "PE14": 3}
    made = {}

    def __init__(self, name, mode, pull=None, value=None):
        self.name, self.v, self.alt = name, None, -1
        Pin.made[name] = self
        self.init(mode, pull, value=value)

    def init(self, mode, pull=None, value=None, alt=-1):
        if value is not None:
            self.v = value
        self.mode, self.alt = mode, alt

    def value(self, v=None):
        if v is None:
            return self.v or 0
        self.v = v
        return None

    def level(self):
        if self.mode == Pin.OUT:
            return self.v or 0
        if self.mode == Pin.ALT and self.alt == 1 and self.name in Pin.TIM1_CH:
            return made["mem32"].tim1_output(Pin.TIM1_CH[self.name])
        return None


class Timer:
    made = {}

    def __init__(self, n):
        self.n, self.cb, self.setup = n, None, None
        Timer.made[n] = self

    def deinit(self):
        self.cb = self.setup = None

    def source_freq(self):
        return SOURCE_FREQ[self.n]

    def init(self, prescaler, period, callback=None):
        self.setup, self.cb = (prescaler, period), callback

    def callback(self, cb):
        self.cb = cb


class ADCAll:
    reading = 25.0

    def __init__(self, resolution, mask):
        pass

    def read_core_temp(self):
        return ADCAll.reading


class Stub:
    pass


RCC, PWR, TIM1 = 0x40023800, 0x40007000, 0x40010000  # stm.RCC, stm.PWR, stm.TIM1 on the STM32F429
CR1, CCMR1, CCER, CNT, ARR, CCR1, BDTR = 0, 0x18, 0x20, 0x24, 0x2C, 0x34, 0x44  # TIM registers (RM0090)


class Registers:
    """``stm.mem32``: every write logged as (address, value); PWR_CSR's BRR follows BRE, as on
    the chip once the regulator is ready (``brr`` False: it never is). TIM1 counts as RM0090
    says, for what the board uses: up-counting to ARR, the update event at the overflow
    (clearing CEN in one-pulse mode), channels forced low or high, or in PWM mode 1 or 2."""

    brr = True

    def __init__(self):
        self.regs = {}
        self.writes = []

    def __getitem__(self, addr):
        v = self.regs.get(addr, 0)
        if addr == PWR + 4 and Registers.brr and v >> 9 & 1:
            v |= 1 << 3
        return v

    def __setitem__(self, addr, value):
        self.writes.append((addr, value))
        self.regs[addr] = value

    def tick(self):
        """One TIM1 counter clock."""
        r = self.regs
        if not r.get(TIM1 + CR1, 0) & 1:
            return
        r[TIM1 + CNT] = r.get(TIM1 + CNT, 0) + 1
        if r[TIM1 + CNT] > r.get(TIM1 + ARR, 0xFFFF):
            r[TIM1 + CNT] = 0
            if r[TIM1 + CR1] & 8:
                r[TIM1 + CR1] &= ~1

    def tim1_output(self, ch):
        r = self.regs
        if not (r.get(TIM1 + BDTR, 0) >> 15 & 1 and r.get(TIM1 + CCER, 0) >> 4 * ch & 1):
            return None
        mode = r.get(TIM1 + CCMR1 + 4 * (ch >> 1), 0) >> 4 + 8 * (ch & 1) & 7
        below = r.get(TIM1 + CNT, 0) < r.get(TIM1 + CCR1 + 4 * ch, 0)
        return {4: 0, 5: 1, 6: int(below), 7: int(not below)}[mode]


class UART:
    """The port's UART read: ``readinto`` returns once it has ``nbytes`` (default: the buffer's
    length) or after waiting ``timeout_char`` for a byte that does not come (counted in ``waits``)."""

    def __init__(self, *a, **k):
        self.arrived = bytearray()
        self.waits = 0
        made["uart"] = self

    def any(self):
        return len(self.arrived)

    def readinto(self, buf, nbytes=None):
        want = len(buf) if nbytes is None else nbytes
        got = min(want, len(self.arrived))
        buf[:got] = self.arrived[:got]
        self.arrived = self.arrived[got:]
        if got < want:
            self.waits += 1
        return got or None


mapped = []  # (address, size) of every uctypes.bytearray_at
made = {}  # the last stand-ins made: "mem32", "uart"


def bytearray_at(addr, size):
    mapped.append((addr, size))
    return bytearray(size)


def fake_modules():
    machine = Stub()
    machine.Pin = Pin
    machine.WDT = lambda timeout: Stub()
    machine.UART = UART
    machine.PWRON_RESET, machine.HARD_RESET, machine.WDT_RESET = 1, 2, 3
    machine.DEEPSLEEP_RESET, machine.SOFT_RESET = 4, 5
    pyb = Stub()
    Timer.made.clear()
    pyb.Timer = Timer
    pyb.ADCAll = ADCAll
    stm = Stub()
    stm.mem32 = made["mem32"] = Registers()
    stm.RCC, stm.PWR, stm.TIM1 = RCC, PWR, TIM1
    stm.RCC_AHB1ENR, stm.RCC_APB1ENR, stm.PWR_CR, stm.PWR_CSR = 0x30, 0x40, 0, 4
    stm.TIM_CR1, stm.TIM_CCMR1, stm.TIM_CCMR2, stm.TIM_CCER = CR1, CCMR1, CCMR1 + 4, CCER
    stm.TIM_CNT, stm.TIM_ARR, stm.TIM_CCR1, stm.TIM_BDTR = CNT, ARR, CCR1, BDTR
    uctypes = Stub()
    uctypes.bytearray_at = bytearray_at
    vfs = Stub()
    vfs.mount = lambda: []
    return {"machine": machine, "pyb": pyb, "stm": stm, "uctypes": uctypes, "vfs": vfs}


def board():
    """A Board built over the stand-ins (sys.modules restored afterwards)."""
    saved = {n: sys.modules.get(n) for n in ("machine", "pyb", "stm", "uctypes", "vfs", "firmware.board_nucleo")}
    sys.modules.update(fake_modules())
    sys.modules.pop("firmware.board_nucleo", None)
    try:
        from firmware.board_nucleo import Board

        return Board()
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def temperature_for(reading):
    ADCAll.reading = reading
    try:
        return board().temperature()
    finally:
        ADCAll.reading = 25.0


def test_a_reading_is_returned_in_tenths_of_a_degree():
    assert temperature_for(24.96) == 249
    assert temperature_for(-40.0) == -400 and temperature_for(125.0) == 1250


def test_no_number_and_readings_the_sensor_cannot_measure_are_the_sentinel():
    from firmware.tables import TEMP_INVALID

    for reading in (NAN, INF, -INF, 125.5, -40.5, -290.0):
        assert temperature_for(reading) == TEMP_INVALID, reading


def levels():
    return [Pin.made[p].level() for p in ACTUATORS]


def run_tim1(ms):
    """TIM1 counts ``ms`` of its ticks at the prescaler the board gave it; nothing else runs."""
    tim1 = Timer.made.get(1)
    if tim1 is None or tim1.setup is None:
        return  # never set up: TIM1 does not count
    tick_hz = SOURCE_FREQ[1] // (tim1.setup[0] + 1)
    for _ in range(ms * tick_hz // 1000):
        made["mem32"].tick()


def burn(slot, max_ms):
    b = board()
    b.burn(slot, max_ms)
    return b


def test_tim1_alone_ends_a_burn_at_max_ms_with_no_interrupt_or_loop_running():
    b = burn(2, 1500)
    pe9 = Pin.made["PE9"]
    run_tim1(1)
    assert pe9.level() == 1
    run_tim1(1498)
    assert pe9.level() == 1, "the pulse ended early"
    run_tim1(1)
    assert pe9.level() == 0, "the pin is still on at max_ms"
    run_tim1(2000)
    assert pe9.level() == 0, "one-pulse mode: no second pulse"
    assert b._tim.cb is not None, "TIM2's interrupt ran: this test proves the hardware alone"


def test_each_slot_drives_its_own_pin_through_its_tim1_channel_and_no_other():
    for slot in range(4):
        burn(slot, 100)
        assert levels() == [0, 0, 0, 0]  # before the first tick
        run_tim1(1)
        assert levels() == [int(i == slot) for i in range(4)], slot


def test_a_burn_arms_tim2_at_5_khz_for_max_ms_and_its_interrupt_takes_every_pin_back_at_0():
    b = burn(2, 1500)
    tim = b._tim
    assert tim.setup == (SOURCE_FREQ[2] // 5000 - 1, 1500 * 5 - 1)
    run_tim1(700)
    assert b.burning() == 2 and levels() == [0, 0, 1, 0]
    tim.cb(tim)
    assert levels() == [0, 0, 0, 0] and {Pin.made[p].mode for p in ACTUATORS} == {Pin.OUT}
    assert b.burning() == -1 and tim.cb is None


def test_tim2s_interrupt_allocates_nothing():
    """A hard interrupt cannot allocate (MemoryError): measured with MicroPython's gc.mem_alloc."""
    b = burn(0, 1000)
    tim = b._tim
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc() if MP else 0
        tim.cb(tim)
        allocated = gc.mem_alloc() - before if MP else 0
    finally:
        gc.enable()
    assert allocated == 0 and b.burning() == -1


def test_a_cut_ends_the_pulse_at_once_and_the_next_burn_starts_afresh():
    b = burn(1, 3000)
    run_tim1(500)
    b.cut()
    assert levels() == [0, 0, 0, 0] and b.burning() == -1
    b.burn(1, 3000)
    run_tim1(2999)
    assert levels() == [0, 1, 0, 0]
    run_tim1(1)
    assert levels() == [0, 0, 0, 0]


def test_every_output_starts_off_and_none_is_a_led_micropython_drives():
    board()
    outputs = {n: p for n, p in Pin.made.items() if p.mode == Pin.OUT}
    assert {n: p.v for n, p in outputs.items()} == dict.fromkeys(outputs, 0)
    assert set(outputs).isdisjoint({"PB0", "PB7", "PB14"})  # NUCLEO_F429ZI's LED1-LED3


def test_the_backup_sram_is_enabled_as_rm0090_asks_then_mapped_at_its_address():
    del mapped[:]
    b = board()
    writes = [w for w in made["mem32"].writes if not TIM1 <= w[0] < TIM1 + 0x400]
    assert writes == [(RCC + 0x40, 1 << 28), (PWR, 1 << 8), (RCC + 0x30, 1 << 18), (PWR + 4, 1 << 9)]
    assert mapped == [(0x40024000, 4096)] and len(b.backup) == 4096


def test_a_backup_regulator_that_never_reports_ready_does_not_stop_the_boot():
    Registers.brr = False
    try:
        assert len(board().backup) == 4096
    finally:
        Registers.brr = True


def test_the_link_reads_only_what_has_arrived_so_a_read_never_waits_for_more():
    link = board().uart
    uart = made["uart"]
    buf = bytearray(32)
    assert link.readinto(buf) == 0 and uart.waits == 0  # nothing there
    uart.arrived[:] = b"\x00" + b"p" * 14  # a PING frame: less than the buffer
    assert link.readinto(buf) == 15 and buf[:15] == b"\x00" + b"p" * 14
    uart.arrived[:] = bytes(range(40))  # more than the buffer: two reads
    assert link.readinto(buf) == 32 and buf == bytes(range(32))
    assert link.readinto(buf) == 8 and buf[:8] == bytes(range(32, 40))
    assert uart.waits == 0
