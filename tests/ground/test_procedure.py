"""Procedure files: what parses, what the checker refuses (with its line), how conditions read telemetry."""

import glob
import os
import textwrap

import pytest

from firmware import dictionary as d
from ground import procedure
from ground.__main__ import main
from ground.codec import Record
from ground.errors import UsageError
from ground.procedure import Confirm, If, ProcedureError, Send

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "procedures", "*.proc")))


def _check(text):
    """(line, message) of every mistake the checker finds in ``text``."""
    out = []
    for m in procedure.check(textwrap.dedent(text), "t.proc"):
        _name, line, message = m.split(":", 2)
        out.append((int(line), message.strip()))
    return out


def _parse(text, **values):
    return procedure.parse(textwrap.dedent(text), "t.proc", values)


def _hk(**values):
    """A HK record with these raw values (the rest 0)."""
    raw = dict.fromkeys((f.name for f in d.HK_FIELDS), 0)
    raw.update(values)
    return Record("HK", 3, 25, 0, 0, 0, 0, raw, d.HK_FIELDS)


def _event(name, **values):
    ev = next(e for e in d.EVENTS if e.name == name)
    return Record("EVENT_INFO", 5, 1, 0, 0, 0, 0, values, ev.fields, event=name, severity="INFO")


def _condition(text):
    return procedure.condition(text.split())


def _holds(text, rec):
    return _condition(text)(rec)


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_procedure_checks_clean(path):
    assert procedure.check(procedure.read(path), path) == []


def test_four_procedures_are_shipped():
    assert [os.path.basename(p) for p in SHIPPED] == [
        "checkout.proc", "contingency-stuck-switch.proc", "deploy-all.proc", "deploy-one.proc"]


def test_a_procedure_parses_into_steps_with_their_lines_and_params_filled_in():
    proc = _parse("""\
        title "Release slot $SLOT"
        param SLOT 1..4
        on-abort
            send SAFE
        end
        send PING   # a comment
        expect HK state == SAFE within 5 s
        confirm "GO for slot $SLOT?"
        send FIRE $SLOT within 2 min
        if event RELEASED slot=$SLOT
            wait 500 ms
        else
            abort "not released"
        end
        """, SLOT="3")
    assert proc.title == "Release slot 3" and proc.values == {"SLOT": "3"}
    assert [(s.line, s.source) for s in proc.steps] == [
        (6, "send PING"), (7, "expect HK state == SAFE within 5 s"), (8, 'confirm "GO for slot 3?"'),
        (9, "send FIRE 3 within 2 min"), (10, "if event RELEASED slot=3")]
    fire, branch = proc.steps[3], proc.steps[4]
    assert isinstance(fire, Send) and fire.hazardous and fire.args == ("3",) and fire.within == 120
    assert isinstance(branch, If) and branch.body[0].seconds == 0.5 and branch.orelse[0].text == "not released"
    assert [s.source for s in proc.on_abort] == ["send SAFE"]
    assert proc.sha256 == procedure.digest(proc.text)


def test_every_mistake_is_reported_with_its_line():
    assert _check("""\
        send PIGN
        send FIRE 7
        send PARAM_SET ARM_WINDOW 2
        expect HK stat == SAFE within 5 s
        expect HK state == BANANA within 5 s
        expect HK state == 1 within 5 s
        expect HK state == SAFE
        expect event RELEASD within 2 s
        expect HK inputs has RBF_REMOVED,FOO within 2 s
        expect HK temperature < warm within 2 s
        expect HK state > SAFE within 2 s
        expect HK inputs > PERMIT within 2 s
        wait soon
        confirm GO to arm?
        jump 3
        send PING fails NOPE
        confirm "unterminated
        end
        """) == [
        (1, "unknown command 'PIGN' (see: ground dictionary)"),
        (2, "FIRE: slot=7 is outside 1..4"),
        (3, "PARAM_SET: ARM_WINDOW=2 is outside 5..3600"),
        (4, "HK has no field 'stat' (it has: %s)" % " ".join(f.name for f in d.HK_FIELDS)),
        (5, "state is one of SAFE|ARMED|FIRING|COOLDOWN, got 'BANANA'"),
        (6, "state is one of SAFE|ARMED|FIRING|COOLDOWN, got '1'"),
        (7, "expect needs a time limit: expect ... within 5 s"),
        (8, "unknown event 'RELEASD' (see: ground dictionary)"),
        (9, "inputs: 'FOO' is not one of RBF_REMOVED|PERMIT|ARM_LINE"),
        (10, "temperature is a number in C, got 'warm'"),
        (11, "state is compared by name: use == or !="),
        (12, "inputs is a set: use has, lacks, == or !="),
        (13, "expected a duration like 5 s, 500 ms or 2 min, got 'soon'"),
        (14, 'confirm takes one quoted text: confirm "..."'),
        (15, "unknown step 'jump': send, expect, wait, confirm, if/else/end, abort, abort-on, on-abort"),
        (16, "fails takes one failure name (%s), last on the line" % "|".join(d.FAILURE_NAMES.names)),
        (17, "a quote is not closed"),
        (18, "end without if or on-abort"),
    ]


def test_blocks_must_close_and_headers_come_first():
    assert _check("""\
        send PING
        title "late"
        if HK state == SAFE
            abort-on event ARM_LOST
        else
        else
        on-abort
        """) == [
        (2, "title belongs before the first step"),
        (3, "if has no end"),
        (4, "abort-on belongs at the top level: it holds from its line on"),
        (6, "else without if"),
        (7, "on-abort is one block, at the top level"),
    ]


def test_each_hazardous_send_needs_a_confirm_of_its_own_on_every_path():
    assert _check("""\
        confirm "GO to arm?"
        send ARM
        send FIRE 1
        if HK state == ARMED
            confirm "GO for slot 2?"
        end
        send FIRE 2
        if HK state == ARMED
            confirm "GO for slot 3?"
        else
            confirm "GO anyway?"
        end
        send FIRE 3
        confirm "GO?"
        if HK state == SAFE
            abort "not armed"
        end
        send FIRE 4
        send SCHED_INSERT 25000 0 FIRE 4
        """) == [
        (3, "hazardous FIRE without a confirm before it (one go/no-go per hazardous command)"),
        (7, "hazardous FIRE without a confirm before it (one go/no-go per hazardous command)"),
        (19, "hazardous SCHED_INSERT without a confirm before it (one go/no-go per hazardous command)"),
    ]


def test_steps_after_the_procedure_has_ended_are_unreachable():
    assert _check("""\
        send PING
        if HK state == SAFE
            abort "safe"
            send PING
        else
            abort "not safe"
        end
        send PING
        if HK state == SAFE
            abort "safe"
        end
        send PING
        """) == [
        (4, "unreachable: the procedure has ended at line 3"),
        (8, "unreachable: the procedure has ended at line 2"),
    ]


def test_on_abort_runs_unattended_so_it_may_not_ask_abort_or_fire():
    assert _check("""\
        on-abort
            send SAFE
            confirm "sure?"
            send ARM
            abort "again"
        end
        send PING
        """) == [
        (3, "on-abort runs unattended to make the payload safe: no confirm in it"),
        (4, "on-abort runs unattended to make the payload safe: no send in it (hazardous)"),
        (5, "on-abort runs unattended to make the payload safe: no abort in it"),
    ]


def test_a_mistake_only_some_param_values_make_says_which():
    assert _check("""\
        param SLOT 1..5
        param MODE in A B
        send FIRE $SLOT
        send PING $MODE
        """) == [
        (3, "FIRE: slot=5 is outside 1..4 (with SLOT=5 MODE=A; SLOT=5 MODE=B)"),
        (4, "PING takes 0 arguments, got 1 (usage: PING)"),
    ]
    assert _check("send PING $SLOT") == [(1, "unknown $SLOT (params: none)")]


def test_a_long_param_range_is_checked_at_its_ends_and_default():
    assert _check("""\
        param SPACING 0..601 default 30
        confirm "GO?"
        send FIRE_SEQUENCE 1,2 $SPACING
        """) == [(3, "FIRE_SEQUENCE: spacing=601 is outside 0..600 (with SPACING=601)")]


def test_params_must_be_given_within_their_values():
    text = "param SLOT 1..4\nparam SPACING 0..600 default 10\nsend PING\n"
    with pytest.raises(UsageError, match="takes param SLOT: give it as SLOT=1..4"):
        _parse(text)
    with pytest.raises(UsageError, match="param SLOT=5 is not one of SLOT=1..4"):
        _parse(text, SLOT="5")
    with pytest.raises(UsageError, match=r"has no param SLTO \(its params: SLOT=1..4 SPACING=0..600\)"):
        _parse(text, SLTO="1")
    assert _parse(text, SLOT="2").values == {"SLOT": "2", "SPACING": "10"}


def test_a_file_that_does_not_parse_raises_every_mistake_at_once():
    with pytest.raises(ProcedureError) as e:
        _parse("send PIGN\nwait\n")
    assert e.value.errors == ["t.proc:1: unknown command 'PIGN' (see: ground dictionary)",
                              "t.proc:2: expected a duration like 5 s, 500 ms or 2 min, got ''"]


def test_now_is_the_grounds_utc_in_cds_days_and_ms_of_day():
    assert procedure.now_values(0) == {"NOW_DAYS": "4383", "NOW_MS": "0"}  # 1970-01-01 is CDS day 4383
    assert procedure.now_values(86400 * 2 + 3.5) == {"NOW_DAYS": "4385", "NOW_MS": "3500"}
    step = _parse("send TIME_SET $NOW_DAYS $NOW_MS").steps[0]
    assert step.args == ("$NOW_DAYS", "$NOW_MS")  # filled in when it runs
    assert isinstance(_parse('confirm "at $NOW_DAYS?"').steps[0], Confirm)


@pytest.mark.parametrize("text, values, holds", [
    ("HK state == ARMED", {"state": d.ARMED}, True),
    ("HK state != ARMED", {"state": d.ARMED}, False),
    ("HK slot2 == RELEASED", {"slot2": d.RELEASED}, True),
    ("HK inputs has RBF_REMOVED,PERMIT", {"inputs": d.IN_RBF_REMOVED | d.IN_PERMIT}, True),
    ("HK inputs has RBF_REMOVED,PERMIT", {"inputs": d.IN_RBF_REMOVED}, False),
    ("HK inputs lacks RBF_REMOVED", {"inputs": d.IN_PERMIT}, True),
    ("HK outputs lacks ACTUATOR_1,ARM_ENABLE", {"outputs": 1 << 5}, True),  # only the LED on
    ("HK outputs lacks ACTUATOR_1,ARM_ENABLE", {"outputs": 1 << 4}, False),  # arm enable on: not all off
    ("HK switches == -", {"switches": 0}, True),
    ("HK switches == 2,3", {"switches": 0b110}, True),
    ("HK temperature < 25.5", {"temperature": 250}, True),  # raw 0.1 C: 25.0 C
    ("HK temperature < 25", {"temperature": 250}, False),
    ("HK temperature >= 25 and temperature <= 25", {"temperature": 250}, True),
    ("HK temperature < 60", {"temperature": d.TEMP_INVALID}, False),  # no reading meets a limit
    ("HK temperature == INVALID", {"temperature": d.TEMP_INVALID}, True),
    ("HK attempts == 1:0,2:0,3:3,4:0", {"attempts": 3 << 8}, True),
    ("HK arm_left > 10", {"arm_left": 11}, True),
])
def test_hk_conditions_compare_values_as_every_tool_shows_them(text, values, holds):
    assert _holds(text, _hk(**values)) is holds


def test_event_and_report_conditions_match_their_name_and_fields():
    released = _event("RELEASED", slot=2, attempt=1)
    assert _holds("event RELEASED slot=2", released)
    assert not _holds("event RELEASED slot=3", released)
    assert not _holds("event SLOT_FAILED", released)
    assert not _holds("event RELEASED", _hk())
    param = Record("PARAM", 20, 2, 0, 0, 0, 0, {"id": d.P_ARM_WINDOW, "value": 60}, d.telemetry("PARAM").fields)
    assert _holds("PARAM id == ARM_WINDOW and value == 60", param)
    assert not _holds("PARAM id == BURN_MAX", param)
    cond = _condition("PARAM id == ARM_WINDOW")
    assert cond.shown(param) == "PARAM id=ARM_WINDOW value=60"  # a report is shown whole
    assert _condition("HK state == SAFE").shown(_hk(state=d.SAFE)) == "HK state=SAFE"


def test_check_cli_lists_mistakes_with_file_and_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.proc"
    bad.write_text("send PING\nsend FIRE 9\n")
    assert main(["proc", "check", *SHIPPED, str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "%s:2: FIRE: slot=9 is outside 1..4\n" % bad
    assert err == "ground: 1 mistake: fix them before the procedure is flown\n"
    assert main(["proc", "check", *SHIPPED]) == 0
    assert capsys.readouterr().out == "4 procedures checked: fit to run\n"
    assert main(["proc", "check", str(tmp_path / "missing.proc")]) == 2
    assert "cannot read procedure" in capsys.readouterr().err
