"""A temperature sensor that reads nonsense: HK carries the sentinel, one event per bad spell,
and the loop goes on answering."""

import struct

from firmware.tables import CMD_HK_PERIOD, CMD_PING, EV_SENSOR_INVALID, HK_FORMAT, TEMP_INVALID, TM_HK
from tests.firmware.fakes import Rig, events, subtypes

TEMPERATURE = 19  # position of "temperature" in dictionary.HK_FIELDS
COMPLETED = 7


def temperatures(tms):
    return [struct.unpack(HK_FORMAT, tm.data)[TEMPERATURE] for tm in tms if tm.service << 8 | tm.subtype == TM_HK]


def test_a_bad_reading_is_sent_as_the_sentinel_with_one_event_and_the_loop_goes_on():
    r = Rig("sensor_bad")
    r.send(CMD_HK_PERIOD, 1, 100)
    r.run(300)
    r.board.temp = TEMP_INVALID
    tms = r.run(1000)
    assert set(temperatures(tms)) == {TEMP_INVALID}
    assert len(events(tms, EV_SENSOR_INVALID)) == 1
    rid = r.send(CMD_PING)
    assert COMPLETED in subtypes(r.run(100), rid)


def test_a_sensor_that_recovers_and_fails_again_is_reported_again():
    r = Rig("sensor_again")
    r.send(CMD_HK_PERIOD, 1, 100)
    r.board.temp = TEMP_INVALID
    first = r.run(500)
    r.board.temp = 251
    good = r.run(500)
    r.board.temp = TEMP_INVALID
    again = r.run(500)
    assert len(events(first, EV_SENSOR_INVALID)) == 1
    assert temperatures(good)[-1] == 251 and events(good, EV_SENSOR_INVALID) == []
    assert len(events(again, EV_SENSOR_INVALID)) == 1
