"""Every telemetry packet the firmware emits matches the dictionary and decodes with spacepackets.

firmware.tables does not carry the PUS 1, time, parameter and schedule report
layouts, so the firmware packs those itself; this drives a real application
through each report kind and checks every packet's source data against the
field list in firmware/dictionary.py, with spacepackets as the independent
decoder of the CCSDS/PUS framing.
"""

import struct

from spacepackets.ecss import PusTm

from firmware import dictionary as d
from firmware.tables import (
    CMD_ARM,
    CMD_FIRE,
    CMD_FIRE_SEQUENCE,
    CMD_HK_ONE_SHOT,
    CMD_PARAM_GET,
    CMD_PING,
    CMD_SCHED_INSERT,
    CMD_SCHED_LIST,
    CMD_TIME_REPORT,
    CMD_TIME_SET,
)
from tests.firmware.fakes import Rig


def _expected_length(service, subtype, data):
    for t in d.TELEMETRY:
        if (t.service, t.subtype) != (service, subtype):
            continue
        name, fields = t.name, t.fields
        if service == d.SVC_EVENT:  # event id, then that event's fields
            eid = struct.unpack(">H", data[:2])[0]
            return name, 2 + struct.calcsize(d.fmt(d.event(eid).fields))
        star = [i for i, f in enumerate(fields) if f.code == "*"]
        if star:  # fixed head, then whole records
            head = struct.calcsize(d.fmt(fields[:star[0]]))
            rec = struct.calcsize(d.fmt(fields[star[0] + 1:]))
            return name, head + (len(data) - head) // rec * rec
        return name, struct.calcsize(d.fmt(fields))
    raise AssertionError("(%d, %d) is not in the dictionary" % (service, subtype))


def test_every_report_kind_matches_its_dictionary_layout_and_decodes_with_spacepackets():
    r = Rig("layouts")
    r.keep_raw = True
    r.run(100)
    r.board.release_after = [200, None, None, None]
    r.send(CMD_PING)
    r.send(CMD_FIRE, 1)  # refused: not armed -> START_FAILED
    r.send(CMD_FIRE, 9)  # bad argument -> ACCEPT_FAILED
    r.send(CMD_HK_ONE_SHOT, 1)
    r.send(CMD_PARAM_GET, 2)
    r.send(CMD_TIME_REPORT)
    r.send(CMD_TIME_SET, 0, 0)
    r.send(CMD_SCHED_INSERT, 9, 0, extra=r.tc(CMD_PING))
    r.send(CMD_SCHED_LIST)
    r.send(CMD_ARM)
    r.send(CMD_FIRE_SEQUENCE, 0b11, 0)  # slot 1 releases, slot 2 stuck: progress both ways
    r.run(30000)
    r.send(CMD_ARM)
    r.run(100)
    r.board.perm = False  # the lander withdraws its permit: ARM_LOST, a medium event
    r.run(100)
    seen = set()
    for raw in r.raw:
        tm = PusTm.unpack(raw, timestamp_len=7)
        name, n = _expected_length(tm.service, tm.message_subtype, tm.source_data)
        assert len(tm.source_data) == n, name
        seen.add(name)
    assert {"ACCEPTED", "ACCEPT_FAILED", "STARTED", "START_FAILED", "PROGRESS", "PROGRESS_FAILED",
            "COMPLETED", "COMPLETION_FAILED", "HK", "TIME", "SCHEDULE", "PARAM", "PONG",
            "EVENT_INFO", "EVENT_MEDIUM", "EVENT_HIGH"} <= seen

