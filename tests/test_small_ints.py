"""Every number the firmware and its fake board compute from constants is a small int on a
32-bit MicroPython, where an int beyond 30 bits and a sign is a heap object: a constant (or a
constant expression, which the compiler folds) past that range allocates at every use, and the
zero-allocation claims of the loop (tests/firmware/test_app.py) would hold on the 64-bit unix
port only."""

import ast
import operator
from pathlib import Path

from ground import build
from tests.firmware.fakes import FakeBoard

ROOT = Path(__file__).resolve().parents[1]
SMALL = (-(1 << 30), (1 << 30) - 1)  # a 32-bit port's small ints (MP_SMALL_INT_MIN..MAX)
CHECKED = [*build.package_sources(), ROOT / "tests" / "firmware" / "fakes.py"]
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Mod: operator.mod, ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
           ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


def _fold(node, consts):
    """The int ``node`` folds to at compile time (literals, ``const`` names, operators), or None."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        v = _fold(node.operand, consts)
        return None if v is None else _UNARY[type(node.op)](v)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        a, b = _fold(node.left, consts), _fold(node.right, consts)
        return None if a is None or b is None else _BINARY[type(node.op)](a, b)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "const":
        return _fold(node.args[0], consts)
    return None


def big_constants(source):
    """(line, expression, value) of every constant expression in ``source`` beyond a small int."""
    tree = ast.parse(source)
    consts = {}
    for st in tree.body:  # module-level NAME = const(...): MicroPython substitutes the value
        if isinstance(st, ast.Assign) and isinstance(st.value, ast.Call) and len(st.targets) == 1:
            v = _fold(st.value, consts)
            if v is not None and isinstance(st.targets[0], ast.Name):
                consts[st.targets[0].id] = v
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            v = _fold(node, consts)
            if v is not None and not SMALL[0] <= v <= SMALL[1]:
                out.append((node.lineno, ast.unparse(node), v))
    return out


def test_every_constant_of_the_firmware_and_its_fake_board_is_a_small_int_on_a_32_bit_port():
    found = {p.name: big_constants(p.read_text()) for p in CHECKED}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_check_sees_a_big_literal_a_folded_expression_and_a_const_name():
    source = "_P = const(1 << 29)\nA = 0xFFFFFFFF\nB = 1 << 30\nC = _P * 2\nD = _P - 1\n"
    assert [line for line, _e, _v in big_constants(source)] == [2, 3, 4]


def test_the_fake_ticks_wrap_at_2_to_the_30_as_micropython_s_and_diff_stays_in_range():
    b = FakeBoard("/tmp")
    period = 1 << 30
    for a, c in [(0, 0), (5, period - 5), (period - 5, 5), (period // 2 - 1, 0), (period // 2, 0),
                 (0, period // 2), (period - 1, 0), (0, period - 1), (123456, 654321)]:
        want = (a - c + period // 2) % period - period // 2  # MicroPython's time.ticks_diff
        assert b.ticks_diff(a, c) == want, (a, c)
    b.t = period + 7
    assert b.ticks_ms() == 7
