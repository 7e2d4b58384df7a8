"""Authenticated telecommands: what a key in use refuses, what it lets through, and what survives a reset."""

import struct

from firmware.packet import crc16, encode_tc
from firmware.tables import (
    AUTH_KEY,
    AUTH_MAC,
    AUTH_MISSING,
    AUTH_REPLAY,
    AUTH_TRUNCATED,
    BAD_LENGTH,
    BUSY,
    CMD_ABORT,
    CMD_ARM,
    CMD_DISARM,
    CMD_FIRE,
    CMD_KEY_ACTIVATE,
    CMD_KEY_REVOKE,
    CMD_PING,
    CMD_SAFE,
    DUPLICATE,
    EV_KEY_CHANGED,
    EV_REFUSED,
    HK_FORMAT,
    KEY_ACTIVE,
    KEY_LEASE,
    KEY_REVOKED,
)
from tests.firmware.fakes import Rig, events, failure, sign, subtypes

KEYS = bytes(range(32)) + bytes(range(100, 132)) + bytes(64)  # keys 1 and 2 installed, 3 and 4 not


def keyed(name):
    """A board with KEYS installed: key 1 in use from its first boot."""
    r = Rig(name, keys=KEYS)
    r.board.release_after = [300, 300, 300, 300]
    r.run()  # the boot's telemetry
    return r


def sent(r, packet, ms=200):
    rid = r.send_raw(packet)
    return rid, r.run(ms)


def test_first_boot_with_keys_puts_the_lowest_key_in_use():
    r = Rig("auth_first", keys=KEYS)
    assert events(r.run(), EV_KEY_CHANGED) == [(EV_KEY_CHANGED, (1, KEY_ACTIVE))]


def test_without_keys_unsigned_commands_run_as_before():
    r = Rig("auth_none")
    rid = r.send(CMD_PING)
    assert subtypes(r.run(), rid) == [1, 3, 7]


def test_signed_command_runs_and_its_reports_say_so():
    r = keyed("auth_ok")
    rid, tms = sent(r, r.signed(CMD_PING))
    assert subtypes(tms, rid) == [1, 3, 7]


def test_unsigned_command_is_refused_auth_missing_and_counted():
    r = keyed("auth_missing")
    rid, tms = sent(r, r.tc(CMD_ARM))
    assert failure(tms, rid) == (2, AUTH_MISSING, 0)
    assert events(tms, EV_REFUSED)[-1][1][2] == AUTH_MISSING
    assert r.app.verification.auth.rejected == 1
    assert not r.board.arm_out


def test_hk_reports_the_authentication_refusals():
    r = keyed("auth_hk")
    r.send_raw(r.tc(CMD_PING))
    r.run(100)
    r.app.hk.send()
    hk = [t for t in r.run() if (t.service, t.subtype) == (3, 25)][-1]
    assert struct.unpack(HK_FORMAT, hk.data)[-1] == 1


def test_cut_trailer_is_refused_auth_truncated():
    r = keyed("auth_truncated")
    good = r.signed(CMD_PING)
    cut = bytearray(good[:-2 - 5])  # the MAC's last 5 bytes gone; length field and CRC redone
    struct.pack_into(">H", cut, 4, len(cut) + 2 - 7)
    cut += struct.pack(">H", crc16(cut, len(cut)))
    rid, tms = sent(r, bytes(cut))
    assert failure(tms, rid) == (2, AUTH_TRUNCATED, 0)


def test_wrong_mac_is_refused_auth_mac_and_nothing_fires():
    r = keyed("auth_mac")
    forged = Rig("auth_mac_other", keys=bytes(range(1, 33)) + bytes(96))  # another key 1
    rid, tms = sent(r, forged.signed(CMD_ARM))
    assert failure(tms, rid) == (2, AUTH_MAC, 0)
    assert not r.board.arm_out


def test_key_not_in_use_and_key_not_installed_are_refused_auth_key():
    r = keyed("auth_key")
    rid, tms = sent(r, r.signed(CMD_PING, key=2))
    assert failure(tms, rid) == (2, AUTH_KEY, 0)
    rid, tms = sent(r, r.signed(CMD_PING, key=3))
    assert failure(tms, rid) == (2, AUTH_KEY, 0)


def test_byte_identical_resend_is_duplicate_and_an_old_counter_is_replay():
    r = keyed("auth_replay")
    armed = r.signed(CMD_ARM)
    rid, tms = sent(r, armed)
    assert subtypes(tms, rid) == [1, 3, 7]
    rid, tms = sent(r, armed)
    assert failure(tms, rid)[:2] == (2, DUPLICATE)
    rid, tms = sent(r, r.signed(CMD_PING, count=1))  # a new request id under a used counter
    assert failure(tms, rid) == (2, AUTH_REPLAY, 0)


def test_counters_out_of_order_within_the_window_pass_once():
    r = keyed("auth_window")
    late = r.signed(CMD_PING)
    r.count += 5
    rid, tms = sent(r, r.signed(CMD_PING))
    assert subtypes(tms, rid) == [1, 3, 7]
    rid, tms = sent(r, late)
    assert subtypes(tms, rid) == [1, 3, 7]
    rid, tms = sent(r, r.signed(CMD_PING, count=1))  # counter 1 again, a new request id
    assert failure(tms, rid) == (2, AUTH_REPLAY, 0)


def test_abort_and_safe_run_unsigned_and_spend_no_request_id():
    r = keyed("auth_abort")
    for cmd in (CMD_ABORT, CMD_SAFE):
        rid, tms = sent(r, r.tc(cmd), 300)
        assert subtypes(tms, rid) == [1, 3, 7]
    r.seq -= 1  # the operator's next command under the request id of the last SAFE
    rid, tms = sent(r, r.signed(CMD_ARM))
    assert subtypes(tms, rid) == [1, 3, 7]
    assert r.board.arm_out


def test_signed_fire_releases_a_slot():
    r = keyed("auth_fire")
    sent(r, r.signed(CMD_ARM))
    rid, tms = sent(r, r.signed(CMD_FIRE, 1), 2000)
    assert subtypes(tms, rid)[:2] == [1, 3] and r.app.state.slots[0] == 2


def test_key_activate_by_the_key_itself_then_revoke_retires_the_old_one():
    r = keyed("auth_rotate")
    rid, tms = sent(r, r.signed(CMD_KEY_ACTIVATE, 2, key=2))
    assert subtypes(tms, rid) == [1, 3, 7]
    assert events(tms, EV_KEY_CHANGED) == [(EV_KEY_CHANGED, (2, KEY_ACTIVE))]
    rid, tms = sent(r, r.signed(CMD_KEY_REVOKE, 1, key=2))
    assert events(tms, EV_KEY_CHANGED) == [(EV_KEY_CHANGED, (1, KEY_REVOKED))]
    rid, tms = sent(r, r.signed(CMD_PING, key=1))
    assert failure(tms, rid) == (2, AUTH_KEY, 0)
    rid, tms = sent(r, r.signed(CMD_KEY_ACTIVATE, 1, key=1))  # a revoked key never comes back
    assert failure(tms, rid) == (2, AUTH_KEY, 0)


def test_key_activate_signed_by_another_loaded_key_is_refused():
    r = keyed("auth_activate_other")
    rid, tms = sent(r, r.signed(CMD_KEY_ACTIVATE, 1, key=2))
    assert failure(tms, rid) == (2, AUTH_KEY, 0)


def test_trailer_on_a_board_without_keys_is_refused():
    r = Rig("auth_nokeys_signed")
    rid, tms = sent(r, r.signed(CMD_PING))
    assert failure(tms, rid) == (2, AUTH_KEY, 0)


def test_keys_and_counter_survive_a_reset():
    r = keyed("auth_reset")
    sent(r, r.signed(CMD_KEY_ACTIVATE, 2, key=2))
    used = r.signed(CMD_PING)
    sent(r, used)
    r.reset(2)
    rid, tms = sent(r, r.signed(CMD_PING, key=2))
    assert subtypes(tms, rid) == [1, 3, 7]
    r.seq += 20  # a request id the ring forgot: only the counter stops it
    rid, tms = sent(r, r.signed(CMD_PING, count=1))
    assert failure(tms, rid) == (2, AUTH_REPLAY, 0)


def test_power_loss_without_vbat_skips_the_counter_ahead_by_the_lease():
    r = keyed("auth_power")
    sent(r, r.signed(CMD_PING))
    r.power_loss(vbat=False)
    rid, tms = sent(r, r.signed(CMD_PING))
    assert failure(tms, rid) == (2, AUTH_REPLAY, 0)  # behind the lease: may have been used
    rid, tms = sent(r, r.signed(CMD_PING, count=r.count + KEY_LEASE))
    assert subtypes(tms, rid) == [1, 3, 7]


def test_extra_bytes_after_a_valid_signature_are_bad_length():
    r = keyed("auth_extra")
    r.seq += 1
    longer = encode_tc(17, 1, b"\x01\x02", seq=r.seq)  # PING with two data bytes, then signed
    rid, tms = sent(r, sign(longer, 1, 99, r.app.verification.auth))
    assert failure(tms, rid) == (2, BAD_LENGTH, 0)


def test_safe_signed_with_a_key_never_installed_still_runs():
    r = keyed("auth_safe_trouble")
    sent(r, r.signed(CMD_ARM))
    rid, tms = sent(r, r.signed(CMD_SAFE, key=3), 300)
    assert subtypes(tms, rid) == [1, 3, 7]
    assert not r.board.arm_out


def burning(name):
    """A keyed rig, armed by a signed ARM, burning slot 1 after a signed FIRE."""
    r = keyed(name)
    sent(r, r.signed(CMD_ARM))
    r.send_raw(r.signed(CMD_FIRE, 1))
    r.run(50)
    assert r.board.on == 0
    return r


def test_during_a_burn_a_signed_command_runs_unless_its_counter_needs_a_lease_on_flash():
    r = burning("auth_busy")
    rid, tms = sent(r, r.signed(CMD_PING), 20)
    assert subtypes(tms, rid) == [1, 3, 7]
    rid, tms = sent(r, r.signed(CMD_PING, count=r.count + KEY_LEASE), 20)
    assert failure(tms, rid) == (2, BUSY, 0)
    assert r.board.on == 0


def test_a_signed_command_refused_busy_during_a_burn_is_refused_auth_replay_when_replayed_after_it():
    # Its counter is spent at the refusal: an attacker who kept it cannot make it run later.
    r = burning("auth_busy_replay")
    arm = r.signed(CMD_ARM)
    rid, tms = sent(r, arm, 20)
    assert failure(tms, rid) == (2, BUSY, 0)
    r.run(2000)  # the release, the burn's end
    rid, tms = sent(r, r.signed(CMD_DISARM))
    assert subtypes(tms, rid) == [1, 3, 7] and not r.board.arm_out
    rid, tms = sent(r, arm)
    assert failure(tms, rid) == (2, AUTH_REPLAY, 0)
    assert not r.board.arm_out
