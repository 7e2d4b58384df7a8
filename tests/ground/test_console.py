"""The operator console, driven headless with Textual's pilot."""

import asyncio
import functools
import queue
import re
import struct
import time

import pytest
from textual.geometry import Region
from textual.widgets import DataTable, Input, RichLog, Static
from textual.widgets._footer import FooterKey

from firmware import dictionary as d
from firmware import packet
from ground import codec
from ground import console as console_module
from ground.archive import Archive
from ground.console import Console, Help, open_client
from ground.errors import LocalError
from ground.link import DOWN
from tests.ground.conftest import FAST
from tests.ground.fakefw import hk_values

SIZE = (150, 45)


def pilot_test(test):
    """Run an async pilot test in its own event loop (no pytest-asyncio in the pinned set)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def console(fw):
    inbox = queue.SimpleQueue()
    with open_client(fw.url, inbox, timeout=FAST, retries=0) as client:
        yield Console(client, inbox)


async def _type(pilot, line):
    pilot.app.query_one("#cmd", Input).value = line
    await pilot.press("enter")
    await pilot.pause(0.3)


async def _until(pilot, predicate, what, timeout=10.0):
    """Let the app run until ``predicate()`` holds (a loaded machine is slow, never wrong)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        await pilot.pause(0.05)


def _text(app, selector):
    widget = app.query_one(selector)
    if isinstance(widget, RichLog):
        return "\n".join(line.text for line in widget.lines)
    return str(widget.render())


def _shown(app, selector):
    """What the widget shows on screen, its lines joined by spaces (wrapped or clipped as drawn)."""
    widget = app.query_one(selector)
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(" ".join(line.text.strip("│╭╮╰╯─ ").split()) for line in lines)  # borders aside


def _slots_sent(fw):
    """The slot bits of the last FIRE_SEQUENCE the fake firmware received."""
    data = fw.tcs[-1][packet.TC_HEADER:-packet.CRC_LEN]
    function, mask, _spacing = struct.unpack(">HBH", data)
    assert function == d.command("FIRE_SEQUENCE").function
    return mask


@pilot_test
async def test_fire_is_sent_only_after_the_slot_number_is_typed(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "FIRE 2")
        assert ("HAZARDOUS FIRE 2: release slot 2, burning its actuator until its switch confirms release "
                "(at most 1 + RETRIES burns). Type 2 and Enter to send it") in _text(console, "#hint")
        assert fw.received == []
        await _type(pilot, "2")
        await pilot.pause(0.3)
        assert len(fw.received) == 1
        log = _text(console, "#commands")
        assert "FIRE 2" in log and "PROGRESS step 1" in log and "COMPLETED" in log


@pilot_test
async def test_wrong_confirmation_cancels_and_sends_nothing(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "ARM")
        assert "the ARM_WINDOW parameter" in _text(console, "#hint") and "Type ARM and" in _text(console, "#hint")
        await _type(pilot, "3")
        assert "ARM cancelled" in _text(console, "#hint")
        await _type(pilot, "ARM")
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert fw.received == []


@pilot_test
async def test_refusal_shows_the_reason_in_words(console, fw):
    fw.refuse["DISARM"] = d.NOT_ARMED
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "disarm")
        assert "ACCEPT_FAILED NOT_ARMED (controller is not ARMED)" in _text(console, "#commands")


@pilot_test
async def test_verification_timeout_is_shown(console, fw):
    fw.silent.add("SAFE")
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "SAFE")
        await pilot.pause(FAST + 0.3)
        assert "TIMEOUT: no report for 0.5 s after STARTED" in _text(console, "#commands")


@pilot_test
async def test_typing_mistakes_are_explained_not_sent(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "FIRE 7")
        assert "FIRE: slot=7 is outside 1..4" in _text(console, "#hint")
        console.query_one("#cmd", Input).value = "HK_PER"
        await pilot.pause(0.1)
        assert console.query_one("#cmd", Input)._suggestion == "HK_PERIOD"
        console.query_one("#cmd", Input).value = "FIRE"
        await pilot.pause(0.1)
        assert "usage: FIRE slot(1..4)" in _text(console, "#hint") and "[HAZARDOUS]" in _text(console, "#hint")
        assert fw.received == []


@pilot_test
async def test_housekeeping_slots_inhibits_and_limits_at_a_glance(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_hk(state=d.ARMED, slot2=d.RELEASED, slot3=d.FAILED, attempts=0x0310, arm_left=42,
                   inputs=d.IN_RBF_REMOVED | d.IN_PERMIT, temperature=900)
        await pilot.pause(0.5)
        assert "SLOT 2\nRELEASED\nburns 1" in _text(console, "#slot2")
        assert "SLOT 3\nFAILED\nburns 3" in _text(console, "#slot3")
        controller = console.query_one("#controller", Static).render()
        assert "STATE ARMED" in str(controller) and "arm window 42s" in str(controller)
        spans = {str(controller)[s.start:s.end].strip(): str(s.style) for s in controller.spans}
        assert spans["ARM_LINE off"].endswith("on ansi_red") and spans["PERMIT on"].endswith("on ansi_green")
        cell = console.query_one("#hk", DataTable).get_cell("temperature", "value")
        assert cell.plain == "90.0 C" and "red" in str(cell.style)


@pilot_test
async def test_events_and_link_state_are_shown(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_event(d.EV_SLOT_FAILED, 4, 3)
        await pilot.pause(0.5)
        assert "EVENT_HIGH SLOT_FAILED slot=4 attempt=3" in _text(console, "#events")
        assert "LINK UP" in _text(console, "#link")
        fw.stop()
        for _ in range(20):
            await pilot.pause(0.1)
            if console.client.link.state == DOWN:
                break
        await pilot.pause(0.2)
        assert "LINK DOWN" in _text(console, "#link")


@pilot_test
async def test_console_archives_what_it_sends_and_receives(fw, tmp_path):
    archive = Archive(str(tmp_path / "console.sqlite"))
    inbox = queue.SimpleQueue()
    with open_client(fw.url, inbox, archive, timeout=FAST) as client:
        app = Console(client, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await _type(pilot, "PING")
            await _until(pilot, lambda: len(archive.frames()) == 5, "the PING and its four reports archived")
            assert "archive %s" % archive.path in _text(app, "#link")
    directions = [direction for _t, direction, _raw in archive.frames()]
    archive.close()
    assert directions == ["TC", "TM", "TM", "TM", "TM"]  # PING; ACCEPTED, STARTED, PONG, COMPLETED


@pilot_test
async def test_fire_sequence_says_which_slots_it_releases_and_is_sent_only_for_the_typed_slot_list(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "FIRE_SEQUENCE 1,2 0")
        assert ("HAZARDOUS FIRE_SEQUENCE 1,2 0: release slots 1 and 2, in that order, 0 s apart. "
                "Type 1,2 and Enter to send it") in _text(console, "#hint")
        await _type(pilot, "3")  # the old bitmask of slots 1 and 2
        assert "cancelled: confirmation did not match" in _text(console, "#hint")
        assert fw.received == []
        await _type(pilot, "FIRE_SEQUENCE 1,2 0")
        await _type(pilot, "1,2")
        assert len(fw.received) == 1 and _slots_sent(fw) == 0b0011


@pilot_test
async def test_the_old_bitmask_form_confirmed_with_its_number_releases_nothing(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "FIRE_SEQUENCE 3 0")  # was: slots 1 and 2, confirmed by typing 3
        assert "a single number is refused, as it could be read as a bitmask" in _text(console, "#hint")
        await _type(pilot, "3")
        assert console.pending_confirmation is None and fw.received == []


@pilot_test
async def test_a_scheduled_fire_states_its_release_time_and_takes_the_slot_as_answer(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "SCHED_INSERT 25000 3600000 FIRE 2")
        assert ("HAZARDOUS SCHED_INSERT 25000 3600000 [FIRE 2]: at 2026-06-13T01:00:00.000Z (on-board time), "
                "release slot 2") in _text(console, "#hint")
        await _type(pilot, "2")
        assert len(fw.received) == 1


@pilot_test
async def test_the_whole_confirmation_is_on_screen_at_80x24(console, fw):
    async with console.run_test(size=(80, 24)) as pilot:
        await _type(pilot, "FIRE_SEQUENCE 1,2,4 10")
        shown = _shown(console, "#hint")
        assert "release slots 1, 2 and 4, in that order, 10 s apart" in shown
        assert "Type 1,2,4 and Enter to send it" in shown


# --- Stale telemetry -------------------------------------------------------------------------------


async def _link_down(pilot, console, fw):
    fw.stop()
    await _until(pilot, lambda: console.client.link.state == DOWN, "the link DOWN")
    await pilot.pause(0.2)


@pilot_test
async def test_with_the_link_down_the_last_state_is_greyed_with_its_age_not_shown_as_current(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_hk(state=d.ARMED, arm_left=42)
        await _until(pilot, lambda: "STATE ARMED" in _text(console, "#controller"), "the HK shown")
        assert "STALE" not in _text(console, "#controller")
        await _link_down(pilot, console, fw)
        controller = _text(console, "#controller")
        assert "STATE ARMED" in controller and "s ago, STALE: not the state now" in controller
        rendered = console.query_one("#controller", Static).render()
        grey = {str(s.style) for s in rendered.spans if "ago" not in str(rendered)[s.start:s.end]}
        assert len(grey) == 1 and "green" not in grey.pop()  # state and inhibits alike, no colour
        assert {str(s.style) for s in console.query_one("#slot1", Static).render().spans} == {
            console_module.STALE_STYLE}
        cell = console.query_one("#hk", DataTable).get_cell("received", "value")
        assert cell.plain.endswith("s ago STALE")


@pilot_test
async def test_housekeeping_that_stops_coming_greys_out_past_the_threshold(console, fw, monkeypatch):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_hk(state=d.SAFE)
        await _until(pilot, lambda: "STATE SAFE" in _text(console, "#controller"), "the HK shown")
        assert "STALE" not in _text(console, "#controller")
        later = time.time() + 6.0  # past the 5 s floor, the link still UP
        monkeypatch.setattr(console_module.time, "time", lambda: later)
        await pilot.pause(0.3)
        assert re.search(r"HK 6\.\d s ago, STALE: not the state now", _text(console, "#controller"))


@pilot_test
async def test_a_command_typed_while_the_link_is_down_is_refused_at_once(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _link_down(pilot, console, fw)
        await _type(pilot, "PING")
        assert _text(console, "#hint").startswith("link DOWN: PING not sent")
        assert console.active == []  # refused as typed: no verification left to time out


@pilot_test
async def test_a_hazardous_command_confirmed_after_the_link_dropped_is_not_sent(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "FIRE 2")
        await _link_down(pilot, console, fw)
        await _type(pilot, "2")
        assert _text(console, "#hint").startswith("link DOWN: FIRE 2 not sent") and console.active == []


# --- Reports, foreign packets ---------------------------------------------------------------------


@pilot_test
async def test_every_report_a_command_asks_for_is_shown_decoded(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        for line in ("PARAM_GET ARM_WINDOW", "TIME_REPORT", "SCHED_LIST"):
            await _type(pilot, line)
        await _until(pilot, lambda: "SCHEDULE" in _text(console, "#commands"), "the schedule shown")
        log = _shown(console, "#commands")
        assert "PARAM id=ARM_WINDOW value=60" in log
        assert "TIME days=25000 d ms=3600000 ms correlated=YES = 2026-06-13T01:00:00.000Z" in log
        assert "{request_id=0x18C1C123" in log


@pilot_test
async def test_a_foreign_packet_is_shown_as_foreign_and_counted(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_foreign(0x123, 3, 25, d.fmt(d.HK_FIELDS), *hk_values(state=d.ARMED))
        await _until(pilot, lambda: "FOREIGN" in _text(console, "#events"), "the foreign packet shown")
        assert "FOREIGN apid=0x123 [3,25]" in _text(console, "#events")
        assert "foreign 1" in _text(console, "#link") and "STATE" not in _text(console, "#controller")


# --- Layout, help, history, completion ----------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pilot_test
async def test_log_lines_wrap_to_the_pane_whole(console, fw, size):
    async with console.run_test(size=size) as pilot:
        fw.send_event(d.EV_BURN_END, 1, 1, 2950, d.END_SWITCH)
        await _until(pilot, lambda: "BURN_END" in _text(console, "#events"), "the event")
        shown = _shown(console, "#events")
        assert "BURN_END slot=1 attempt=1 duration=2950 ms why=SWITCH" in shown
        assert console.query_one("#events").size.width >= size[0] - 52  # the logs get the room


@pilot_test
async def test_a_pane_rewraps_its_lines_when_the_terminal_is_resized(console, fw):
    async with console.run_test(size=(120, 40)) as pilot:
        fw.send_event(d.EV_BURN_END, 1, 1, 2950, d.END_SWITCH)
        await _until(pilot, lambda: "BURN_END" in _text(console, "#events"), "the event")
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert "BURN_END slot=1 attempt=1 duration=2950 ms why=SWITCH" in _shown(console, "#events")


@pilot_test
async def test_at_80_columns_f2_swaps_the_logs_for_the_housekeeping_table(console, fw):
    async with console.run_test(size=(80, 24)) as pilot:
        table = console.query_one("#hk", DataTable)
        assert not table.display or table.size.width == 0
        await pilot.press("f2")
        await _until(pilot, lambda: table.size.width > 40, "the HK table shown")
        assert console.query_one("#logs").size.width == 0


@pytest.mark.parametrize("how", ["f1", "help", "?"])
@pilot_test
async def test_help_lists_every_command_and_the_keys(console, fw, how):
    async with console.run_test(size=SIZE) as pilot:
        if how == "f1":
            await pilot.press("f1")
        else:
            await _type(pilot, how)
        await _until(pilot, lambda: isinstance(console.screen, Help), "the help screen")
        shown = str(console.screen.query_one("#help-text", Static).render())
        assert all(codec.usage(c) in shown for c in d.COMMANDS)
        assert "Up / Down" in shown and "Ctrl+Q" in shown
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(console.screen, Help), "the help screen closed")
        assert fw.received == []


@pilot_test
async def test_help_with_a_command_shows_its_usage(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "help fire_sequence")
        assert "usage: FIRE_SEQUENCE slots(a list like 1,2" in _text(console, "#hint")


@pilot_test
async def test_the_footer_names_the_keys(console, fw):
    async with console.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: len(console.query(FooterKey)) >= 4, "the footer drawn")
        keys = {(k.key_display or k.key, k.description) for k in console.query(FooterKey)}
        assert {("f1", "help"), ("^q", "quit"), ("f2", "housekeeping/logs"), ("esc", "cancel")} <= keys


@pilot_test
async def test_up_and_down_recall_the_lines_entered(console, fw):
    async with console.run_test(size=SIZE) as pilot:
        await _type(pilot, "PING")
        await _type(pilot, "PARAM_GET BURN_MAX")
        cmd = console.query_one("#cmd", Input)
        await pilot.press("up")
        assert cmd.value == "PARAM_GET BURN_MAX"
        await pilot.press("up")
        assert cmd.value == "PING"
        await pilot.press("down")
        await pilot.press("down")
        assert cmd.value == ""


@pytest.mark.parametrize("typed, completed", [
    ("PARAM_SET ARM", "PARAM_SET ARM_WINDOW"),
    ("param_get hk_p", "param_get hk_pERIOD"),
    ("FIRE ", "FIRE 2"),  # slot 1 is released: the lowest stowed slot
    ("FIRE_SEQUENCE 2,", "FIRE_SEQUENCE 2,3"),
    ("SCHED_INSERT 25000 0 FI", "SCHED_INSERT 25000 0 FIRE"),
    ("SCHED_INSERT 25000 0 FIRE ", "SCHED_INSERT 25000 0 FIRE 2"),
])
@pilot_test
async def test_tab_completes_command_names_slots_slot_lists_and_parameter_names(console, fw, typed, completed):
    async with console.run_test(size=SIZE) as pilot:
        fw.send_hk(slot1=d.RELEASED)
        await _until(pilot, lambda: console.client.latest_hk is not None, "the HK")
        cmd = console.query_one("#cmd", Input)
        cmd.value = typed
        await _until(pilot, lambda: cmd._suggestion == completed, "the completion offered")
        await pilot.press("tab")
        assert console.query_one("#cmd", Input).value == completed


def test_a_console_that_crashes_exits_non_zero(fw, monkeypatch):
    def broken(self):
        raise RuntimeError("a bug in the console")

    monkeypatch.setattr(Console, "refresh_from_link", broken)
    with pytest.raises(LocalError, match="the console stopped on an error"):
        console_module.run(fw.url, headless=True)
