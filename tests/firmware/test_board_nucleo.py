"""firmware/board_nucleo.py over stand-ins for MicroPython's ``machine``, ``pyb``, ``stm``,
``uctypes`` and ``vfs``: the temperature conversion, the cutoff timer's programming, pins
nobody else drives, and the backup SRAM's setup."""

import sys

SOURCE_FREQ = 84000000  # TIM2 on NUCLEO_F429ZI: APB1 (42 MHz) x 2
NAN = float("nan")
INF = float("inf")


class Pin:
    OUT, IN, PULL_UP, PULL_DOWN = 1, 0, 1, 2
    made = {}

    def __init__(self, name, mode, pull=None, value=None):
        self.name, self.mode, self.v = name, mode, value
        Pin.made[name] = self

    def value(self, v=None):
        if v is None:
            return self.v or 0
        self.v = v
        return None


class Timer:
    def __init__(self, n):
        self.n, self.cb, self.setup = n, None, None

    def deinit(self):
        self.cb = self.setup = None

    def source_freq(self):
        return SOURCE_FREQ

    def init(self, prescaler, period, callback):
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


RCC, PWR = 0x40023800, 0x40007000  # stm.RCC, stm.PWR on the STM32F429


class Registers:
    """``stm.mem32``: every write logged as (address, value); PWR_CSR's BRR follows BRE, as on
    the chip once the regulator is ready (``brr`` False: it never is)."""

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


mapped = []  # (address, size) of every uctypes.bytearray_at
made = {}  # the last stand-ins made: "mem32"


def bytearray_at(addr, size):
    mapped.append((addr, size))
    return bytearray(size)


def fake_modules():
    machine = Stub()
    machine.Pin = Pin
    machine.WDT = lambda timeout: Stub()
    machine.UART = lambda *a, **k: Stub()
    machine.PWRON_RESET, machine.HARD_RESET, machine.WDT_RESET = 1, 2, 3
    machine.DEEPSLEEP_RESET, machine.SOFT_RESET = 4, 5
    pyb = Stub()
    pyb.Timer = Timer
    pyb.ADCAll = ADCAll
    stm = Stub()
    stm.mem32 = made["mem32"] = Registers()
    stm.RCC, stm.PWR = RCC, PWR
    stm.RCC_AHB1ENR, stm.RCC_APB1ENR, stm.PWR_CR, stm.PWR_CSR = 0x30, 0x40, 0, 4
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


def test_a_burn_arms_tim2_at_10_khz_for_max_ms_and_its_interrupt_cuts_every_actuator():
    b = board()
    b.burn(2, 1500)
    tim = b._tim
    assert tim.setup == (SOURCE_FREQ // 10000 - 1, 1500 * 10 - 1)
    assert b.burning() == 2 and Pin.made["PE9"].value() == 1
    tim.cb(tim)
    assert [Pin.made[p].value() for p in ("PE13", "PE11", "PE9", "PD15")] == [0, 0, 0, 0]
    assert b.burning() == -1 and tim.cb is None


def test_every_output_starts_off_and_none_is_a_led_micropython_drives():
    board()
    outputs = {n: p for n, p in Pin.made.items() if p.mode == Pin.OUT}
    assert {n: p.v for n, p in outputs.items()} == dict.fromkeys(outputs, 0)
    assert set(outputs).isdisjoint({"PB0", "PB7", "PB14"})  # NUCLEO_F429ZI's LED1-LED3


def test_the_backup_sram_is_enabled_as_rm0090_asks_then_mapped_at_its_address():
    del mapped[:]
    b = board()
    assert made["mem32"].writes == [(RCC + 0x40, 1 << 28), (PWR, 1 << 8), (RCC + 0x30, 1 << 18), (PWR + 4, 1 << 9)]
    assert mapped == [(0x40024000, 4096)] and len(b.backup) == 4096


def test_a_backup_regulator_that_never_reports_ready_does_not_stop_the_boot():
    Registers.brr = False
    try:
        assert len(board().backup) == 4096
    finally:
        Registers.brr = True
