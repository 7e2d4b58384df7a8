"""The operator console, driven headless with Textual's pilot."""

import asyncio
import functools
import queue
import struct

import pytest
from textual.geometry import Region
from textual.widgets import DataTable, Input, RichLog, Static

from firmware import dictionary as d
from firmware import packet
from ground.archive import Archive
from ground.console import Console, open_client
from ground.link import DOWN
from tests.ground.conftest import FAST

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


def _text(app, selector):
    widget = app.query_one(selector)
    if isinstance(widget, RichLog):
        return "\n".join(line.text for line in widget.lines)
    return str(widget.render())


def _shown(app, selector):
    """What the widget shows on screen, its lines joined by spaces (wrapped or clipped as drawn)."""
    widget = app.query_one(selector)
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(" ".join(line.text.split()) for line in lines)


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
