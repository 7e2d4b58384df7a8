"""The HIL files parse and keep their conventions; the Renode files agree with each other,
with the firmware's board module and with Renode's platform (checked here, since Renode
itself cannot run on our machines)."""

import ast
import os
import re
import subprocess
import sys

import pytest
import robot.api
from robot.api.parsing import get_model, get_resource_model

from hil.targets import INPUTS, OUTPUTS, SLOT_SWITCHES, repl_peripherals

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HIL = os.path.join(ROOT, "hil")
SUITES = os.path.join(HIL, "suites")
RESOURCES = os.path.join(HIL, "resources")
REPL = os.path.join(HIL, "renode", "deployer.repl")
RESC = os.path.join(HIL, "renode", "deployer.resc")
BOARD = os.path.join(ROOT, "firmware", "board_nucleo.py")
STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "renode_stub", "renode-keywords.resource")

# What platforms/boards/stm32f4_discovery-kit.repl already wires to a pin (its user button,
# external button, loop-back and user LED), and the pins of the two UARTs the application
# and its REPL use (USART2 D5/D6, USART3 D8/D9).
PLATFORM_DEVICES = {"A0": "UserButton", "A3": "externalButton", "A5": None, "D12": "UserLED"}
UART_PINS = {"D5", "D6", "D8", "D9"}

ROBOT_FILES = sorted(os.path.join(d, f) for d in (SUITES, RESOURCES) for f in os.listdir(d))


def _errors(model):
    """Every parsing error in a Robot model (its nodes are ``ast`` nodes)."""
    return [e for node in ast.walk(model) for e in getattr(node, "errors", ()) or ()]


@pytest.mark.parametrize("path", ROBOT_FILES, ids=os.path.basename)
def test_robot_files_parse_without_errors(path):
    model = get_model(path) if path.endswith(".robot") else get_resource_model(path)
    assert _errors(model) == []


def test_every_test_is_named_should_and_no_keyword_sleeps():
    suite = robot.api.TestSuiteBuilder().build(SUITES)
    tests = [t for s in suite.suites for t in s.tests]
    assert len(tests) >= 12
    assert [t.name for t in tests if not t.name.startswith("Should ")] == []
    for path in ROBOT_FILES:
        with open(path) as f:
            assert not re.search(r"^\s+Sleep\b", f.read(), re.M), path


@pytest.mark.parametrize("target,extra", [("sim", []), ("renode", ["--variable", "RENODEKEYWORDS:" + STUB,
                                                                   "--variable", "FIRMWARE:/nonexistent.elf"])])
def test_suites_dry_run_on_both_targets(tmp_path, target, extra):
    """Every keyword resolves with the right arguments for each target's resource."""
    out = subprocess.run([sys.executable, "-m", "robot", "--dryrun", "--variable", "TARGET:" + target, *extra,
                          "--outputdir", str(tmp_path), "--log", "NONE", "--report", "NONE", SUITES],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_the_repl_declares_every_peripheral_the_adapter_drives():
    declared = [p.name for p in repl_peripherals(REPL)]
    assert sorted(declared) == sorted(INPUTS + OUTPUTS + SLOT_SWITCHES)
    kinds = {p.name: p.kind for p in repl_peripherals(REPL)}
    assert {kinds[n] for n in INPUTS + SLOT_SWITCHES} == {"Button"}
    assert {kinds[n] for n in OUTPUTS} == {"LED"}


def test_the_repl_wires_each_pin_once_and_reuses_the_platform_devices_on_taken_pins():
    peripherals = repl_peripherals(REPL)
    pins = [p.board_pin for p in peripherals]
    assert len(set(pins)) == len(pins)
    assert UART_PINS.isdisjoint(pins)
    for p in peripherals:
        if p.board_pin in PLATFORM_DEVICES:
            assert p.device == PLATFORM_DEVICES[p.board_pin], "%s would fight the platform's device on %s" % (
                p.name, p.board_pin)


def _connections(port):
    """``{pin: "dest@0 | ..."}`` of the repl's ``gpioPortX:`` block for ``port``."""
    with open(REPL) as f:
        block = re.search(r"^%s:\n((?:[ \t]+.*\n?)*)" % port, f.read(), re.M)
    return dict(re.findall(r"^\s+(\d+) -> (.*)$", block[1], re.M)) if block else {}


def test_every_led_is_driven_by_its_pin_and_every_button_drives_its_pin():
    with open(REPL) as f:
        text = f.read()
    for p in repl_peripherals(REPL):
        if p.kind == "LED":
            assert "%s@0" % p.name in _connections(p.port).get(str(p.pin), "").split(" | "), p
        elif p.device == p.name:
            assert re.search(r"^%s: .*\n\s+-> %s@%d$" % (p.name, p.port, p.pin), text, re.M), p


def test_the_arm_output_feeds_the_arm_read_back_input_on_a_pin_a_bsrr_write_does_not_overwrite():
    """STM32_GPIOPort rewrites pins 0..15 in order from the state before a write: a pin of the
    same port looped from the arm output keeps the new level only if it comes before it."""
    arm = next(p for p in repl_peripherals(REPL) if p.name == "arm")
    with open(BOARD) as f:
        board = f.read()
    read_back = re.search(r'_arm_rb = machine\.Pin\("P([A-K])(\d+)"', board)
    assert read_back, "board_nucleo.py no longer names the arm read-back pin as this test expects"
    port, pin = read_back.groups()
    assert "gpioPort%s@%s" % (port, pin) in _connections(arm.port)[str(arm.pin)].split(" | ")
    assert "gpioPort" + port != arm.port or int(pin) < arm.pin


def _board_pins():
    """Every pin name written as a string in firmware/board_nucleo.py ("E2" or "PE2")."""
    with open(BOARD) as f:
        tree = ast.parse(f.read())
    names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return {re.sub(r"^P", "", n) for n in names if re.fullmatch(r"P?[A-K]\d{1,2}", n)}


def test_every_repl_pin_exists_in_the_board_module():
    assert os.path.exists(BOARD), "firmware/board_nucleo.py is missing: the Renode wiring cannot be checked"
    missing = [p for p in repl_peripherals(REPL) if p.board_pin not in _board_pins()]
    assert missing == []


def _resc():
    with open(RESC) as f:
        return f.read()


def test_the_resc_loads_the_repl_alone_and_opens_a_raw_link():
    text = _resc()
    assert re.findall(r"^machine LoadPlatformDescription (.*)$", text, re.M) == ["$repl"]
    with open(REPL) as f:
        assert re.findall(r'^using "(.*)"$', f.read(), re.M) == ["platforms/boards/stm32f4_discovery-kit.repl"]
    assert 'emulation CreateServerSocketTerminal $link_port "link" false' in text
    assert "connector Connect sysbus.usart2 link" in text
    assert re.search(r'^macro reset\n"""\n\s+sysbus LoadELF \$firmware\n(\s+.*\n)*"""\nrunMacro \$reset$', text, re.M)


def test_the_resc_has_a_default_for_every_variable_the_resource_sets():
    with open(os.path.join(RESOURCES, "renode.resource")) as f:
        set_by_resource = set(re.findall(r"Execute Command\s+\$(\w+) =", f.read()))
    defaults = set(re.findall(r"^\$(\w+) \?=", _resc(), re.M))
    assert set_by_resource == {"firmware", "repl", "link_port"}
    assert set_by_resource <= defaults


def test_the_resc_only_names_peripherals_of_the_repl():
    used = set(re.findall(r"^(sysbus\.gpioPort[A-K]\.\w+) ", _resc(), re.M))
    assert used and used <= {p.path for p in repl_peripherals(REPL)}


def test_every_button_keeps_its_state_across_a_machine_reset():
    """Not released by its own reset, and its level driven into its port again by the reset
    macro, which runs after every peripheral's reset (a port's reset clears its pins)."""
    buttons = {p.path for p in repl_peripherals(REPL) if p.kind == "Button"}
    kept = set(re.findall(r"^(sysbus\.gpioPort[A-K]\.\w+) ReleaseOnReset false$", _resc(), re.M))
    macro = _resc().split("macro reset", 1)[1]
    toggled = re.findall(r"^\s+(sysbus\.gpioPort[A-K]\.\w+) Toggle$", macro, re.M)
    assert kept == buttons
    assert sorted(toggled) == sorted(b for b in buttons for _ in range(2))
