"""The other evidence campaigns in their short CI form: a short link fault run, a short fuzz
and a short wear profile, each with zero violations; plus a check that the fuzz checker fails
when it should (the power-cut campaign: test_campaign_faults.py)."""

import pytest

from firmware.auth import Auth
from firmware.tables import CMD_ARM, CMD_FIRE, MAC_LEN
from tests.campaign import fuzz, linkfaults, wear
from tests.campaign.fuzz_mp import Rng, make_input, plugged_rig, unsafe

pytestmark = pytest.mark.slow


def test_a_mission_profile_keeps_every_flash_sector_ten_times_below_its_rated_erases():
    day, events = wear.measure(commands=100, timing="typical", log=lambda s: None)
    lines, margin = wear.budget(day, events)
    assert margin >= wear.MARGIN, "\n".join(lines)
    assert day.commands == 100 and day.resets == wear.PROFILE["resets_per_day"]
    assert sum(day.erases) <= 2 * day.resets, lines  # a boot writes its state record; reading commands nothing


def test_commands_under_link_noise_complete_once_or_fail_visibly():
    levels = linkfaults.campaign(commands=6, rates=(0.0, 3e-2), log=lambda s: None)
    assert levels[1].corrupted > 0 and levels[1].reordered > 0  # the noise was really there
    bad = [linkfaults.line(lv) for lv in levels if lv.violations]
    assert not bad, "\n".join(bad)


def test_fuzzed_frames_under_the_unix_port_raise_nothing_and_drive_no_output():
    r = fuzz.unix_port(3000)
    assert r.inputs == 3000 and not r.violations, r.violations
    assert min(r.per_kind) > 0 and r.crc_errors > 0 and r.frames > 0


def test_fuzzed_signed_commands_under_the_unix_port_with_a_key_in_use_run_only_unchanged():
    r = fuzz.unix_port(3000, keyed=True)
    assert r.inputs == 3000 and not r.violations, r.violations
    assert len(r.per_kind) == 12 and min(r.per_kind) > 0 and r.runs > r.per_kind[8] // 2  # signed ones do run


def _changed_signed_commands_seen_run(count):
    """Of ``count`` signed commands with bytes changed (fuzz_mp's kind 9) into a plugged App with a key
    in use, how many the fuzz checker sees run."""
    log = []
    rig = plugged_rig(fuzz.KEYS, log)
    rng = Rng(1)
    seen = 0
    for i in range(1, count + 1):
        log.clear()
        rig.board.uart.rx.extend(make_input(rng, 9, i, i, rig.app.verification.auth))
        for _ in range(20):
            rig.app.step()
            rig.board.idle(10)
        seen += unsafe(rig.board, log) is not None
    return seen


def test_the_fuzz_checker_sees_changed_signed_commands_run_when_the_mac_check_accepts_anything(monkeypatch):
    assert _changed_signed_commands_seen_run(40) == 0
    mac = Auth._mac  # still signs (the packet is as long as the signed part), then takes the packet's own
    monkeypatch.setattr(Auth, "_mac", lambda self, k, buf, n: bytes(buf[n:n + MAC_LEN]) if len(buf) > n + MAC_LEN
                        else mac(self, k, buf, n))
    assert _changed_signed_commands_seen_run(40) > 0  # 18: the others break a length, an argument or the header


def test_fuzzed_frames_under_hypothesis_raise_nothing_and_drive_no_output():
    r = fuzz.under_hypothesis(300)
    assert r.inputs >= 300 and not r.violations, r.violations


def test_fuzzed_signed_commands_with_a_key_in_use_raise_nothing_and_drive_no_output():
    r = fuzz.under_hypothesis(200, signed=True)
    assert r.inputs >= 200 and not r.violations, r.violations
    # every input passed the CRC (made good after the change): a TC for us, or not (its header changed)
    assert r.crc_errors == 0 and r.frames + r.undecodable == r.inputs and r.frames > r.inputs // 2


def test_the_fuzz_checker_sees_a_burn_when_the_plug_is_out():
    rig = plugged_rig()
    rig.board.rbf = True
    rig.send(CMD_ARM)
    rig.send(CMD_FIRE, 1)
    rig.run(200)
    assert unsafe(rig.board) is not None
