"""The Renode adapter sends exactly the monitor commands Renode's sources define.

Checked against renode/renode-infrastructure (hil/README.md, facts 17, 21, 36):
Miscellaneous.Button (Press, Release, ReleaseOnReset), Testing.LEDTester (emulation
CreateLEDTester, AssertState(state, timeout, pauseEmulation), AssertAndHoldState(initialState,
timeoutAssert, timeoutHold, pauseEmulation)), STM32_ADC FeedSample; and the monitor's
``machine Reset``, ``start`` and ``sysbus WriteWord``.
"""

import pytest

from hil.targets import INPUTS, OUTPUTS, SLOT_SWITCHES, RenodeTarget, TargetError, repl_peripherals

REPL = """\
rbf_removed: Miscellaneous.Button @ gpioPortF 12
    -> gpioPortF@12
permit: Miscellaneous.Button @ gpioPortF 13
    -> gpioPortF@13
switch1: Miscellaneous.Button @ gpioPortF 14
switch2: Miscellaneous.Button @ gpioPortF 15
switch3: Miscellaneous.Button @ gpioPortF 10
switch4: Miscellaneous.Button @ gpioPortF 11
arm: Miscellaneous.LED @ gpioPortG 2
actuator1: Miscellaneous.LED @ gpioPortG 3
actuator2: Miscellaneous.LED @ gpioPortG 4
actuator3: Miscellaneous.LED @ gpioPortG 5
actuator4: Miscellaneous.LED @ gpioPortG 6
"""


class FakeMonitor:
    """Records monitor commands; ``fail_on`` makes one raise, as Renode reports an error."""

    def __init__(self, fail_on=None):
        self.commands = []
        self.fail_on = fail_on

    def __call__(self, command):
        self.commands.append(command)
        if command == self.fail_on:
            raise AssertionError("There was an error when executing command '%s'" % command)
        return ""


@pytest.fixture
def repl(tmp_path):
    path = tmp_path / "board.repl"
    path.write_text(REPL)
    return str(path)


def target(repl, monitor):
    return RenodeTarget(monitor, "socket://127.0.0.1:3456", repl)


def test_start_creates_one_led_tester_per_output(repl):
    monitor = FakeMonitor()
    target(repl, monitor).start()
    assert monitor.commands == [
        'emulation CreateLEDTester "arm_tester" sysbus.gpioPortG.arm',
        'emulation CreateLEDTester "actuator1_tester" sysbus.gpioPortG.actuator1',
        'emulation CreateLEDTester "actuator2_tester" sysbus.gpioPortG.actuator2',
        'emulation CreateLEDTester "actuator3_tester" sysbus.gpioPortG.actuator3',
        'emulation CreateLEDTester "actuator4_tester" sysbus.gpioPortG.actuator4',
    ]


def test_inputs_are_buttons_pressed_when_they_allow_deployment(repl):
    monitor = FakeMonitor()
    t = target(repl, monitor)
    t.set_input("permit", False)
    t.set_input("rbf_removed", True)
    assert monitor.commands == ["sysbus.gpioPortF.permit Release", "sysbus.gpioPortF.rbf_removed Press"]


def test_a_satellite_separates_once_its_actuator_burns(repl):
    monitor = FakeMonitor()
    target(repl, monitor).play_satellite(2, 5)
    assert monitor.commands == ["actuator2_tester AssertState true 5.0", "sysbus.gpioPortF.switch2 Press"]


def test_a_stuck_switch_is_never_pressed(repl):
    monitor = FakeMonitor()
    t = target(repl, monitor)
    t.stick_switch(3)
    t.play_satellite(3, 5)
    assert monitor.commands == ["actuator3_tester AssertState true 5.0"]


def test_no_separation_when_the_actuator_never_burns(repl):
    monitor = FakeMonitor(fail_on="actuator1_tester AssertState true 2.0")
    with pytest.raises(AssertionError):
        target(repl, monitor).play_satellite(1, 2)
    assert monitor.commands == ["actuator1_tester AssertState true 2.0"]


def test_reset_resets_the_machine_and_lets_it_run(repl):
    monitor = FakeMonitor()
    target(repl, monitor).reset()
    assert monitor.commands == ["machine Reset", "start"]


def test_outputs_are_asserted_with_led_testers(repl):
    monitor = FakeMonitor()
    t = target(repl, monitor)
    t.output_should_be("arm", False, 2)
    t.actuator_should_stay_off(4, 1.5)
    assert monitor.commands == ["arm_tester AssertState false 2.0", "actuator4_tester AssertAndHoldState false 0 1.5"]


@pytest.mark.parametrize("call", [
    lambda t: t.set_input("rbf", True),
    lambda t: t.output_should_be("led", True, 1),
    lambda t: t.play_satellite(5, 1),
    lambda t: t.stick_switch(0),
    lambda t: t.actuator_should_stay_off(9, 1),
])
def test_unknown_names_and_slots_fail_without_a_command(repl, call):
    monitor = FakeMonitor()
    with pytest.raises(TargetError):
        call(target(repl, monitor))
    assert monitor.commands == []


def test_a_repl_missing_a_peripheral_is_refused(tmp_path):
    path = tmp_path / "short.repl"
    path.write_text(REPL.replace("permit:", "permission:"))
    with pytest.raises(TargetError, match="permit"):
        RenodeTarget(FakeMonitor(), "socket://127.0.0.1:3456", str(path))


def test_the_repl_parser_reads_kind_port_and_pin(repl):
    first = repl_peripherals(repl)[0]
    assert (first.name, first.kind, first.path, first.board_pin) == (
        "rbf_removed", "Button", "sysbus.gpioPortF.rbf_removed", "F12")
    assert len(repl_peripherals(repl)) == len(INPUTS + OUTPUTS + SLOT_SWITCHES)


def test_a_burn_is_timed_from_its_edge_with_the_emulation_paused_there(repl):
    monitor = FakeMonitor()
    t = target(repl, monitor)
    t.burn_should_start(1, 8)
    t.burn_should_end_between(1, 0.98, 0.995)
    assert monitor.commands == [
        "actuator1_tester AssertState false 0",
        "actuator1_tester AssertState true 8.0 true",
        "actuator1_tester AssertAndHoldState true 0 0.98 true",
        "actuator1_tester AssertState false %s true" % (0.995 - 0.98),
        "start",
    ]


def test_a_burn_already_on_cannot_be_timed(repl):
    monitor = FakeMonitor(fail_on="actuator2_tester AssertState false 0")
    with pytest.raises(AssertionError):
        target(repl, monitor).burn_should_start(2, 8)
    assert monitor.commands == ["actuator2_tester AssertState false 0"]


def test_the_temperature_sensor_is_the_calibration_words_and_adc1_channel_18(repl):
    monitor = FakeMonitor()
    target(repl, monitor).set_temperature_sensor(0, 0, 0)
    assert monitor.commands == ["sysbus WriteWord 0x1FFF7A2C 0", "sysbus WriteWord 0x1FFF7A2E 0",
                                "sysbus.adc1 FeedSample 0 18 -1"]
