"""The dictionary is internally consistent, and the firmware's tables are derived from it."""

import struct

from firmware import dictionary as d
from firmware import tables
from ground import tablegen


def test_failure_code_constants_name_their_row_in_failures():
    for code, (name, _doc) in enumerate(d.FAILURES, start=1):
        assert getattr(d, name) == code


def test_event_ids_are_their_position_and_constants_name_them():
    for i, (eid, name, severity, fields, _doc) in enumerate(d.EVENTS, start=1):
        assert eid == i
        assert getattr(d, "EV_" + name) == eid
        assert severity in (d.INFO, d.LOW, d.MEDIUM, d.HIGH)
        struct.calcsize(d.fmt(fields))


def test_parameter_constants_name_their_row_and_defaults_are_in_range():
    for pid, name, _unit, lo, hi, default, _doc in d.PARAMETERS:
        assert getattr(d, "P_" + name) == pid
        assert lo <= default <= hi


def test_commands_are_unique_by_name_and_by_header():
    names = [c[0] for c in d.COMMANDS]
    headers = [(c[1], c[2], c[3]) for c in d.COMMANDS]
    assert len(set(names)) == len(names)
    assert len(set(headers)) == len(headers)
    for name, *_ in d.COMMANDS:
        assert d.command(name)[0] == name
    assert d.command("NO_SUCH") is None


def test_only_function_management_commands_carry_a_function_id():
    for _name, service, _sub, fid, _haz, _args, _doc in d.COMMANDS:
        assert (fid != 0) == (service == 8)


def test_argument_ranges_fit_their_wire_type():
    limits = {"B": (0, 0xFF), "H": (0, 0xFFFF), "I": (0, 0xFFFFFFFF), "h": (-0x8000, 0x7FFF)}
    for c in d.COMMANDS:
        for name, code, _unit, lo, hi, _doc in c[5]:
            if code != "tc":
                assert limits[code][0] <= lo <= hi <= limits[code][1], (c[0], name)


def test_fire_and_arm_are_hazardous_and_abort_is_not():
    assert d.command("ARM")[4] and d.command("FIRE")[4] and d.command("FIRE_SEQUENCE")[4]
    assert not d.command("ABORT")[4] and not d.command("SAFE")[4]


def test_command_and_event_data_fit_in_a_packet():
    for c in d.COMMANDS:
        fixed = [a for a in c[5] if a[1] != "tc"]
        assert 2 + struct.calcsize(d.fmt(fixed)) <= d.MAX_TC_DATA
    assert struct.calcsize(d.fmt(d.HK_FIELDS)) <= d.MAX_TM_DATA
    for e in d.EVENTS:
        assert 2 + struct.calcsize(d.fmt(e[3])) <= d.MAX_TM_DATA


def test_generated_tables_match_the_dictionary():
    with open(tables.__file__) as f:
        assert f.read() == tablegen.generate()
    for i, c in enumerate(d.COMMANDS):
        assert getattr(tables, "CMD_" + c[0]) == i
        assert tables.COMMANDS[i][:4] == (c[1], c[2], c[3], int(c[4]))
    assert d.fmt(d.HK_FIELDS) == tables.HK_FORMAT
    assert bytes(e[2] for e in d.EVENTS) == tables.EVENT_SEVERITY
