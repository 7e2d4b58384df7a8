"""The client protocol between the ground server and its clients (ground/protocol.py)."""

import json
import struct

import pytest
from hypothesis import given

from firmware import dictionary as d
from ground import codec, protocol
from ground.errors import AuthorityError, GroundError, LinkError, UsageError
from tests.ground.fakefw import hk_data, tm_packet
from tests.ground.test_codec import command_and_values


def _hk(**values):
    return tm_packet(3, 25, hk_data(temperature=900, inputs=d.IN_PERMIT, attempts=0x0310, **values),
                     days=25000, ms=3600000)


PACKETS = {
    "housekeeping": _hk(state=d.ARMED, slot2=d.RELEASED),
    "event": tm_packet(5, 4, struct.pack(">HBB", d.EV_SLOT_FAILED, 4, 3)),
    "refusal": tm_packet(1, 2, struct.pack(">IHH", 0x18C10005, d.NOT_ARMED, 0)),
    "schedule": tm_packet(11, 10, struct.pack(">B", 1) + struct.pack(">IHI", 0x18C10007, 25000, 60000) * 2),
    "unknown event": tm_packet(5, 1, struct.pack(">H", 999)),
    "not in the dictionary": tm_packet(42, 7, b"\x01\x02"),
    "malformed": tm_packet(1, 7, b"\x01\x02"),
}


@pytest.mark.parametrize("raw", PACKETS.values(), ids=PACKETS.keys())
def test_a_record_sent_to_a_client_is_the_servers_decode_field_for_field(raw):
    rec = codec.decode(raw, 1796000000.25)
    doc = json.loads(protocol.encode({"type": "tm", "rec": protocol.record_doc(rec)}))["rec"]
    again = protocol.record_from_doc(doc, raw)
    assert again == rec
    assert (again.to_json(), again.rendered(), again.rendered_entries(), str(again)) == (
        rec.to_json(), rec.rendered(), rec.rendered_entries(), str(rec))


def test_a_record_carries_the_text_every_tool_shows_for_clients_in_other_languages():
    doc = protocol.record_doc(codec.decode(PACKETS["housekeeping"]))
    assert doc["text"]["state"] == "ARMED" and doc["text"]["temperature"] == "90.0 C"
    assert doc["violations"] == ["temperature"] and doc["obt"].startswith("2026-")


@given(command_and_values())
def test_the_words_of_a_command_build_the_same_command_under_the_servers_sequence_count(case):
    entry, values = case
    tc = codec.build(entry.name, [codec.arg_text(f, v) for f, v in zip(entry.args, values, strict=True)],
                     lambda: 0)
    words = json.loads(json.dumps(protocol.words(tc)))
    again = codec.build(words[0], words[1:], lambda: 0)
    assert again == tc


@pytest.mark.parametrize("typed", [
    ["FIRE_SEQUENCE", [1, 3], 10],
    ["FIRE_SEQUENCE", [2], 0],  # one member: a list, never the bare number it would be as a mask
    ["PARAM_SET", "ARM_WINDOW", 120],
    ["SCHED_INSERT", 25000, 3600000, "FIRE_SEQUENCE", "1,2", 0],
    ["SCHED_INSERT", 25000, 0, "PARAM_GET", "BURN_MAX"],
])
def test_the_words_of_a_command_with_names_lists_or_a_nested_command_build_it_again(typed):
    seqs = iter(range(100))
    tc = codec.build(typed[0], typed[1:], lambda: next(seqs))
    seqs = iter(range(100))
    assert codec.build(protocol.words(tc)[0], protocol.words(tc)[1:], lambda: next(seqs)) == tc


def test_a_telecommand_sent_to_clients_comes_back_whole_with_its_nested_command():
    tc = codec.build("SCHED_INSERT", [25000, 0, "FIRE", 2], lambda: 7)
    again = protocol.tc_from_doc(json.loads(json.dumps(protocol.tc_doc(tc))))
    assert again == tc and again.hazardous and str(again) == "SCHED_INSERT 25000 0 [FIRE 2]"


@pytest.mark.parametrize("line, why", [
    (b"hello", "not a JSON message"),
    (b"\xff\xfe", "not a JSON message"),
    (b"[1, 2]", "a JSON object with a \"type\""),
    (b'{"protocol": 1}', "a JSON object with a \"type\""),
    (b'{"type": 5}', "a JSON object with a \"type\""),
])
def test_a_line_that_is_not_a_message_is_a_protocol_error_naming_why(line, why):
    with pytest.raises(protocol.ProtocolError, match=why):
        protocol.decode(line)


def test_messages_are_one_json_object_per_line():
    line = protocol.encode({"type": "notice", "text": "a\nb"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode(line) == {"type": "notice", "text": "a\nb"}


@pytest.mark.parametrize("url, address", [
    ("ground://127.0.0.1:7100", ("127.0.0.1", 7100)),
    ("ground://localhost", ("localhost", protocol.DEFAULT_PORT)),
    ("ground://[::1]:7100", ("::1", 7100)),
])
def test_a_server_url_names_host_and_port(url, address):
    assert protocol.is_server_url(url) and protocol.parse_url(url) == address


@pytest.mark.parametrize("url", ["ground://", "ground://host:port", "ground://host:7100/path", "socket://h:1"])
def test_a_malformed_server_url_is_a_usage_error(url):
    with pytest.raises(UsageError, match="not a ground server URL"):
        protocol.parse_url(url)


@pytest.mark.parametrize("error", [AuthorityError, UsageError, LinkError, GroundError])
def test_an_error_in_a_reply_is_raised_again_as_its_own_kind_in_the_client(error):
    reply = {"ok": False, "error": "why", "kind": protocol.error_kind(error("why"))}
    again = protocol.error(json.loads(json.dumps(reply)))
    assert type(again) is error and str(again) == "why"
