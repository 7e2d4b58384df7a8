"""The dictionary is internally consistent, and the firmware's tables are derived from it."""

import string
import struct

from firmware import dictionary as d
from firmware import tables
from ground import tablegen

_TYPE_RANGE = {"B": (0, 0xFF), "H": (0, 0xFFFF), "I": (0, 0xFFFFFFFF), "h": (-0x8000, 0x7FFF)}
_SMALL_INT = 1 << 30  # a 32-bit MicroPython allocates for an int beyond +-2**30


def _fields():
    """Every argument and telemetry field of the dictionary."""
    for c in d.COMMANDS:
        yield from c.args
    for t in d.TELEMETRY:
        yield from t.fields
    for e in d.EVENTS:
        yield from e.fields


def test_failure_codes_are_their_position_and_constants_name_them():
    for i, f in enumerate(d.FAILURES, start=1):
        assert f.code == i
        assert getattr(d, f.name) == f.code


def test_event_ids_are_their_position_and_constants_name_them():
    for i, e in enumerate(d.EVENTS, start=1):
        assert e.id == i
        assert getattr(d, "EV_" + e.name) == e.id
        assert e.severity in (d.INFO, d.LOW, d.MEDIUM, d.HIGH)
        struct.calcsize(d.fmt(e.fields))


def test_parameter_ids_are_their_position_constants_name_them_and_defaults_are_in_range():
    for i, p in enumerate(d.PARAMETERS, start=1):
        assert p.id == i
        assert getattr(d, "P_" + p.name) == p.id
        assert p.lo <= p.default <= p.hi


def test_commands_are_unique_by_name_and_by_header():
    names = [c.name for c in d.COMMANDS]
    headers = [(c.service, c.subtype, c.function) for c in d.COMMANDS]
    assert len(set(names)) == len(names)
    assert len(set(headers)) == len(headers)
    for c in d.COMMANDS:
        assert d.command(c.name) is c
        assert d.command_for(c.service, c.subtype, c.function) is c
    assert d.command("NO_SUCH") is None


def test_only_function_management_commands_carry_a_function_id_and_it_fits_a_byte():
    for c in d.COMMANDS:
        assert (c.function != 0) == (c.service == d.SVC_FUNCTION)
        assert 0 <= c.function <= 0xFF  # tables.CMD_FUNCTION is a byte string


def test_argument_ranges_fit_their_wire_type():
    for c in d.COMMANDS:
        for f in c.args:
            if f.code != "tc":
                lo, hi = _TYPE_RANGE[f.code]
                assert lo <= f.lo <= f.hi <= hi, (c.name, f.name)


def test_every_service_a_command_or_report_uses_has_a_name():
    for row in d.COMMANDS + d.TELEMETRY:
        assert not d.SERVICES.text(row.service).startswith("?"), row.name


def test_fire_and_arm_are_hazardous_and_abort_is_not():
    assert d.command("ARM").hazardous and d.command("FIRE").hazardous and d.command("FIRE_SEQUENCE").hazardous
    assert not d.command("ABORT").hazardous and not d.command("SAFE").hazardous


def test_every_command_that_can_be_hazardous_says_what_it_does_with_its_own_arguments():
    for c in d.COMMANDS:
        nests = any(f.code == "tc" for f in c.args)
        if not (c.hazardous or nests):
            assert not c.confirm and not c.answer, c.name
            continue
        placeholders = {name for _text, name, _spec, _conv in string.Formatter().parse(c.confirm) if name}
        known = {f.name for f in c.args} | ({"time"} if {"days", "ms"} <= {f.name for f in c.args} else set())
        assert c.confirm and placeholders <= known, c.name
        assert c.answer == "" or c.answer in {f.name for f in c.args if f.code != "tc"}, c.name


def test_names_are_unique_within_each_table_and_fit_the_fields_that_use_them():
    assert len({n.title for n in d.NAME_TABLES}) == len(d.NAME_TABLES)
    for n in d.NAME_TABLES:
        assert len(set(n.names)) == len(n.names), n.title
    for f in _fields():
        if f.names is None:
            continue
        assert f.names in d.NAME_TABLES, f.name
        lo, hi = _TYPE_RANGE[f.code]
        if f.names.kind == d.ENUM:
            assert all(lo <= value <= hi for value, _name in f.names.pairs()), f.name
        elif f.names.kind in (d.BITS, d.COUNTS):
            width = 1 if f.names.kind == d.BITS else 4
            assert (1 << width * len(f.names.names)) - 1 <= hi, f.name


def test_command_and_event_data_fit_in_a_packet():
    for c in d.COMMANDS:
        fixed = [a for a in c.args if a.code != "tc"]
        assert 2 + struct.calcsize(d.fmt(fixed)) <= d.MAX_TC_DATA
    assert struct.calcsize(d.fmt(d.HK_FIELDS)) <= d.MAX_TM_DATA
    for e in d.EVENTS:
        assert 2 + struct.calcsize(d.fmt(e.fields)) <= d.MAX_TM_DATA


def test_generated_tables_match_the_dictionary_column_by_column():
    with open(tables.__file__) as f:
        assert f.read() == tablegen.generate()
    for i, c in enumerate(d.COMMANDS):
        fixed = [a for a in c.args if a.code != "tc"]
        assert getattr(tables, "CMD_" + c.name) == i
        assert (tables.CMD_SERVICE[i], tables.CMD_SUBTYPE[i], tables.CMD_FUNCTION[i]) == (
            c.service, c.subtype, c.function)
        assert tables.CMD_FORMAT[i] == d.fmt(fixed)
        assert tables.CMD_LEN[i] == (2 if c.function else 0) + struct.calcsize(d.fmt(fixed))
        assert tables.CMD_TAIL[i] == (len(fixed) < len(c.args))
        assert tables.CMD_LO[i] == tuple(a.lo for a in fixed)
        assert [hi if hi is not None else _TYPE_RANGE[a.code][1] for a, hi in zip(fixed, tables.CMD_HI[i],
                                                                                  strict=True)] == [
            a.hi for a in fixed]
    for i, p in enumerate(d.PARAMETERS):
        assert (tables.PARAM_LO[i], tables.PARAM_HI[i], tables.PARAM_DEFAULT[i]) == (p.lo, p.hi, p.default)
    assert d.fmt(d.HK_FIELDS) == tables.HK_FORMAT
    assert bytes(e.severity for e in d.EVENTS) == tables.EVENT_SEVERITY
    assert tuple(d.fmt(e.fields) for e in d.EVENTS) == tables.EVENT_FORMATS


def test_every_number_in_the_generated_tables_is_a_small_int_on_the_board():
    def ints(value):
        if isinstance(value, int):
            yield value
        elif isinstance(value, tuple):
            for v in value:
                yield from ints(v)

    for name in dir(tables):
        for v in ints(getattr(tables, name)):
            assert -_SMALL_INT <= v < _SMALL_INT, name
