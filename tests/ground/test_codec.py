"""The dictionary-driven codec: every command encodes, every report decodes, junk never raises."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ecss import PusTc

from firmware import dictionary as d
from firmware import packet
from ground import codec
from ground.errors import UsageError

SIMPLE = [c for c in d.COMMANDS if all(f.code != "tc" for f in c.args)]
NUMERIC = [c for c in SIMPLE if c.args and c.args[0].names is None]  # first argument typed as a number


def _raw(f):
    """An argument's raw values: in range, its limits often."""
    if f.names is not None and f.names.kind == d.BITS:  # a set: two or more members, as typed
        return st.sets(st.integers(0, len(f.names.names) - 1), min_size=2).map(lambda bits: sum(1 << b for b in bits))
    return st.sampled_from((f.lo, f.hi)) | st.integers(f.lo, f.hi)


@st.composite
def command_and_values(draw):
    entry = draw(st.sampled_from(SIMPLE))
    values = [draw(_raw(f)) for f in entry.args]
    if entry.name == "PARAM_SET":  # the value must suit the parameter
        p = d.parameter(values[0])
        values[1] = draw(st.sampled_from((p.lo, p.hi)) | st.integers(p.lo, p.hi))
    return entry, values


@given(command_and_values(), st.integers(0, 0x3FFF))
def test_every_command_typed_as_shown_encodes_as_spacepackets_reads_it(case, seq):
    entry, values = case
    typed = [codec.arg_text(f, v) for f, v in zip(entry.args, values, strict=True)]
    tc = codec.build(entry.name, typed, lambda: seq)
    oracle = PusTc.unpack(tc.packet)
    assert (oracle.apid, oracle.service, oracle.message_subtype, oracle.seq_count) == (
        d.APID, entry.service, entry.subtype, seq)
    fid = struct.pack(">H", entry.function) if entry.function else b""
    assert oracle.app_data == fid + struct.pack(d.fmt(entry.args), *values)
    assert codec.describe_tc(tc.packet) == str(tc) == " ".join([entry.name] + typed)
    assert tc.hazardous == entry.hazardous and tc.seq == seq and tc.args == tuple(values)


@pytest.mark.parametrize("entry", NUMERIC, ids=lambda c: c.name)
def test_arguments_outside_the_dictionary_range_are_refused_by_name(entry):
    f = entry.args[0]
    args = [g.lo for g in entry.args]
    args[0] = f.hi + 1
    with pytest.raises(UsageError, match="%s: %s=%d is outside" % (entry.name, f.name, f.hi + 1)):
        codec.build(entry.name, args, lambda: 0)


def test_parameters_can_be_named_or_numbered_and_are_shown_by_name():
    assert codec.build("param_get", ["burn_max"], lambda: 0).args == (d.P_BURN_MAX,)
    assert str(codec.build("PARAM_SET", ["2", "500"], lambda: 0)) == "PARAM_SET BURN_MAX 500"
    with pytest.raises(UsageError, match="PARAM_SET: BURN_MAX=50 is outside 100..10000"):
        codec.build("PARAM_SET", ["BURN_MAX", "50"], lambda: 0)
    assert "id(ARM_WINDOW|BURN_MAX|RETRIES|COOLDOWN|DEBOUNCE|HK_PERIOD|HK_ENABLED)" in codec.usage(
        d.command("PARAM_GET"))


def test_a_nested_command_is_encoded_whole_and_shown_as_typed():
    tc = codec.build("SCHED_INSERT", ["30000", "0", "FIRE_SEQUENCE", "2,4", "5"], iter(range(10)).__next__)
    assert tc.hazardous and str(tc) == "SCHED_INSERT 30000 0 [FIRE_SEQUENCE 2,4 5]"
    assert codec.describe_tc(tc.packet) == "SCHED_INSERT 30000 0 [FIRE_SEQUENCE 2,4 5]"


# --- FIRE_SEQUENCE: the slots are a list; the wire carries their bitmask -------------

@pytest.mark.parametrize("slots, mask", [
    ("1,2", 0b0011), ("2,4", 0b1010), ("1,2,3,4", 0b1111), (" 3 , 4 ", 0b1100),
    ([1, 2], 0b0011), ((3,), 0b0100), (["2", "3"], 0b0110),
])
def test_fire_sequence_takes_the_slots_as_a_list_and_sends_their_bitmask(slots, mask):
    tc = codec.build("FIRE_SEQUENCE", [slots, 0], lambda: 0)
    assert tc.args == (mask, 0)
    assert tc.packet[packet.TC_HEADER:-packet.CRC_LEN] == struct.pack(">HBH", 4, mask, 0)


@pytest.mark.parametrize("slots, error", [
    ("3", "a single number is refused, as it could be read as a bitmask"),
    (3, "a single number is refused"),
    ("15", "a single number is refused"),
    ("2,1", "ascending order, each once: write 1,2"),
    ("1,1", "ascending order, each once: write 1"),
    ("1,5", "'5' is not one of 1|2|3|4"),
    ("1,", "'' is not one of 1|2|3|4"),
    ("1;2", "(two or more of 1|2|3|4), got '1;2'"),
    ([], "'' is not one of 1|2|3|4"),
])
def test_fire_sequence_refuses_anything_but_a_list_of_distinct_slots_in_order(slots, error):
    with pytest.raises(UsageError, match="^FIRE_SEQUENCE: slots") as e:
        codec.build("FIRE_SEQUENCE", [slots, 0], lambda: 0)
    assert error in str(e.value)


def _tm(service, subtype, data, days=0, ms=0, apid=d.APID):
    w = packet.TmWriter(apid)
    w.buf[packet.TM_HEADER:packet.TM_HEADER + len(data)] = data
    return bytes(w.buf[:w.finish(service, subtype, len(data), days, ms)])


@given(st.lists(st.integers(0, 0xFF), min_size=len(d.HK_FIELDS), max_size=len(d.HK_FIELDS)))
def test_housekeeping_decodes_to_named_fields_with_limit_flags(small):
    values = [min(v, 2 ** (8 * struct.calcsize(f.code)) - 1) if f.code != "h" else v - 128
              for v, f in zip(small, d.HK_FIELDS, strict=True)]
    rec = codec.decode(_tm(3, 25, struct.pack(d.fmt(d.HK_FIELDS), *values)))
    assert rec.name == "HK" and rec.error is None
    assert list(rec.values.values()) == values
    assert rec.violations() == [f.name for f, v in zip(d.HK_FIELDS, values, strict=True) if codec.out_of_limits(f, v)]
    assert str(rec)  # renders every value, enum out of range included


def test_an_invalid_temperature_reads_invalid_and_is_flagged():
    values = [0] * len(d.HK_FIELDS)
    values[[f.name for f in d.HK_FIELDS].index("temperature")] = d.TEMP_INVALID
    rec = codec.decode(_tm(3, 25, struct.pack(d.fmt(d.HK_FIELDS), *values)))
    assert "temperature=INVALID !LIMIT" in str(rec)


@pytest.mark.parametrize("event", d.EVENTS, ids=lambda e: e.name)
def test_every_event_decodes_with_its_name_severity_and_fields(event):
    values = [1] * len(event.fields)
    rec = codec.decode(_tm(5, event.severity, struct.pack(">H" + d.fmt(event.fields)[1:], event.id, *values)))
    assert (rec.event, rec.severity, rec.error) == (event.name, d.SEVERITIES[event.severity - 1], None)
    assert rec.values == {f.name: 1 for f in event.fields}


@given(st.sampled_from([(t.service, t.subtype) for t in d.TELEMETRY] + [(99, 1), (5, 1)]), st.binary(max_size=80))
def test_decode_never_raises_on_any_data(kind, data):
    rec = codec.decode(_tm(kind[0], kind[1], data))
    assert rec is not None and str(rec) and rec.to_json()


def test_failure_reports_name_the_failure_in_words():
    rec = codec.decode(_tm(1, 8, struct.pack(">IHH", 0x18C1C001, d.NOT_CONFIRMED, 0)))
    assert str(rec) == ("T+0.000s COMPLETION_FAILED request_id=0x18C1C001 code=NOT_CONFIRMED data=0 "
                        "(no release confirmed after the last permitted burn)")


def test_correlated_time_is_shown_in_utc():
    assert codec.format_obt(24800, 3723004) == "2025-11-25T01:02:03.004Z"
    assert codec.format_obt(0, 5000) == "T+5.000s"


# --- Names: every field the dictionary names is shown by name, and the names read back -----

_NAMED = [(where, f) for where in d.TELEMETRY + d.EVENTS for f in where.fields if f.names is not None]
_TYPE_MAX = {"B": 0xFF, "H": 0xFFFF}


def _decode_with(where, **values):
    """Decode report ``where`` (a Telemetry or an Event) whose fields are 0 but for ``values``."""
    fields = [f for f in where.fields if f.code != "*"]
    if fields and any(f.code == "*" for f in where.fields):  # SCHEDULE: the head only, no entries
        fields = list(where.fields[:[f.code for f in where.fields].index("*")])
    data = struct.pack(d.fmt(fields), *[values.get(f.name, 0) for f in fields])
    if isinstance(where, d.Event):
        return codec.decode(_tm(d.SVC_EVENT, where.severity, struct.pack(">H", where.id) + data))
    return codec.decode(_tm(where.service, where.subtype, data))


def _members(names):
    """Strategy: a raw value every part of which has a name (an enum member, a set, counts)."""
    if names.kind == d.ENUM:
        return st.sampled_from([v for v, _n in names.pairs()] + ([0] if names.zero else []))
    if names.kind == d.BITS:
        return st.integers(0, (1 << len(names.names)) - 1)
    return st.lists(st.integers(0, 15), min_size=len(names.names), max_size=len(names.names)).map(
        lambda counts: sum(c << 4 * i for i, c in enumerate(counts)))


def _read_back(names, text):
    """The raw value a rendered text names, read with the names table alone."""
    if names.kind == d.ENUM:
        return names.value_of(text)
    if names.kind == d.BITS:
        return sum(1 << names.names.index(n) for n in text.split(",")) if text != "-" else 0
    pairs = [item.split(":") for item in text.split(",")]
    return sum(int(count) << 4 * names.names.index(n) for n, count in pairs)


@pytest.mark.parametrize("where, f", [wf for wf in _NAMED if wf[1].names.kind != d.COMMAND],
                         ids=lambda x: getattr(x, "name", ""))
@given(data=st.data())
def test_every_named_field_shows_each_member_by_name_and_the_name_reads_back(where, f, data):
    value = data.draw(_members(f.names))
    rec = _decode_with(where, **{f.name: value})
    text = dict((n, t) for n, t, _bad in rec.rendered())[f.name]
    assert rec.error is None and "?" not in text
    assert _read_back(f.names, text) == value
    assert "%s=%s" % (f.name, text) in str(rec)


@pytest.mark.parametrize("where, f", [wf for wf in _NAMED if (wf[1].names.kind, wf[1].code) != (d.COUNTS, "H")],
                         ids=lambda x: getattr(x, "name", ""))  # 4 counts of 4 bits: a u16 has no value left
def test_a_value_no_name_covers_is_shown_as_such_not_as_a_member(where, f):
    rec = _decode_with(where, **{f.name: _TYPE_MAX[f.code]})
    text = dict((n, t) for n, t, _bad in rec.rendered())[f.name]
    assert "?" in text


@given(st.sampled_from(d.COMMANDS))
def test_refused_names_the_command_its_service_and_subtype_identify(c):
    rec = _decode_with(d.event(d.EV_REFUSED), service=c.service, subtype=c.subtype, code=d.NOT_ARMED)
    text = dict((n, t) for n, t, _bad in rec.rendered())
    assert c.name in text["subtype"].split("/")
    assert text["service"] == d.SERVICES.text(c.service) and not text["service"].startswith("?")
    assert text["code"] == "NOT_ARMED"


def test_the_raw_numbers_operators_complained_about_are_names_now():
    hk = _decode_with(d.telemetry("HK"), attempts=0x0310,
                      inputs=d.IN_RBF_REMOVED | d.IN_ARM_LINE, switches=0b0110, state=d.ARMED)
    assert "attempts=1:0,2:1,3:3,4:0" in str(hk) and "inputs=RBF_REMOVED,ARM_LINE" in str(hk)
    assert "switches=2,3" in str(hk) and "state=ARMED" in str(hk)
    assert str(_decode_with(d.event(d.EV_BURN_END), slot=1, attempt=1, why=d.END_MAX_TIME)).endswith(
        "EVENT_INFO BURN_END slot=1 attempt=1 duration=0 ms why=MAX_TIME")
    assert "PARAM_CHANGED id=ARM_WINDOW value=90" in str(_decode_with(d.event(d.EV_PARAM_CHANGED), id=1, value=90))
    assert "DISARMED reason=DISARM" in str(_decode_with(d.event(d.EV_DISARMED), reason=0))
    expired = _decode_with(d.event(d.EV_DISARMED), reason=d.ARM_WINDOW_EXPIRED)
    assert "DISARMED reason=ARM_WINDOW_EXPIRED" in str(expired)
    assert "ARM_LOST reason=NO_PERMIT" in str(_decode_with(d.event(d.EV_ARM_LOST), reason=d.NO_PERMIT))
    assert "RECORD_MISSING record=PARAMETERS" in str(_decode_with(d.event(d.EV_RECORD_MISSING), record=d.REC_PARAMS))
    assert "SLOT_RESOLVED slot=2 state=RELEASED" in str(_decode_with(d.event(d.EV_SLOT_RESOLVED), slot=2,
                                                                      state=d.RELEASED))
    assert "REFUSED service=PARAMETER subtype=PARAM_SET code=BAD_ARGUMENT" in str(
        _decode_with(d.event(d.EV_REFUSED), service=20, subtype=3, code=d.BAD_ARGUMENT))


# --- Hostile telemetry: valid CRC, but not the payload's or not possible ----------------------


@pytest.mark.parametrize("apid", [0x123, 0x7FF, 0x000])
@pytest.mark.parametrize("kind, data", [
    ((3, 25), struct.pack(d.fmt(d.HK_FIELDS), *([1] * len(d.HK_FIELDS)))),
    ((17, 2), b""),
    ((5, 4), struct.pack(">HB", d.EV_ABORTED, d.ARMED)),
    ((1, 7), struct.pack(">I", 0x18C1C001)),
], ids=["HK", "PONG", "EVENT_HIGH", "COMPLETED"])
def test_another_apids_packet_is_shown_as_foreign_and_never_decoded_as_ours(apid, kind, data):
    rec = codec.decode(_tm(*kind, data, apid=apid))
    assert rec.foreign and rec.name == "FOREIGN" and rec.values == {} and rec.event is None
    assert str(rec) == "T+0.000s FOREIGN apid=0x%03X [%d,%d] seq=0: APID 0x%03X is not the payload's (0x0C1): " \
                       "not decoded" % (apid, kind[0], kind[1], apid)
    assert rec.to_json()["apid"] == apid


@pytest.mark.parametrize("ms", [86400000, 86401000, 0xFFFFFFFF])
def test_an_impossible_time_of_day_is_flagged_not_rolled_into_another_day(ms):
    rec = codec.decode(_tm(17, 2, b"", days=24800, ms=ms))
    assert rec.time_error == "impossible time: %d ms of day (a day has 86400000)" % ms
    assert rec.obt == "BADTIME(days=24800,ms=%d)" % ms
    assert str(rec).startswith("BADTIME(days=24800,ms=%d) !TIME PONG" % ms)
    assert rec.to_json()["time_error"] == rec.time_error


def test_the_last_millisecond_of_a_day_is_a_good_time():
    rec = codec.decode(_tm(17, 2, b"", days=24800, ms=86399999))
    assert rec.time_error is None and rec.obt == "2025-11-25T23:59:59.999Z"


@pytest.mark.parametrize("data, error", [(b"\x00", "event id cut short: 1 byte of 2"),
                                         (b"", "event id cut short: 0 bytes of 2")])
def test_a_cut_short_event_id_is_malformed_not_event_id_0(data, error):
    rec = codec.decode(_tm(5, 4, data))
    assert rec.error == error and rec.event is None
    assert str(rec) == "T+0.000s EVENT_HIGH MALFORMED: " + error
