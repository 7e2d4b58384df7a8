"""Authenticated telecommands across the ground and the firmware (CPython).

The ground signs with CPython's hmac (ground/auth.py), the firmware verifies with its own
HMAC over hashlib (firmware/auth.py): every accepted packet here is the two agreeing. The
property: any change anywhere in a signed packet, its CRC recomputed so that only the MAC
can catch it, is refused and nothing runs.
"""

import hashlib
import hmac
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spacepackets.ecss import PusTc

from firmware import dictionary as d
from firmware.packet import CRC_LEN, crc16
from firmware.tables import CMD_ARM, CMD_PING
from ground import auth
from ground.errors import UsageError
from tests.firmware.fakes import Rig, subtypes

KEY = bytes(range(32))
KEYS = auth.blob({1: KEY})


def _recrc(packet):
    body = bytes(packet[:-CRC_LEN])
    return body + struct.pack(">H", crc16(body, len(body)))


def test_firmware_hmac_is_rfc_4231_hmac_sha256():
    r = Rig("auth_rfc", keys=KEYS)
    a = r.app.verification.auth
    msg = bytearray(b"what do ya want for nothing?" * 5)
    assert bytes(a._mac(1, msg, len(msg))) == hmac.new(KEY, bytes(msg), hashlib.sha256).digest()


def test_ground_signed_command_is_accepted_by_the_firmware():
    r = Rig("auth_ground", keys=KEYS)
    r.run()
    rid = r.send_raw(auth.sign(r.tc(CMD_PING), 1, KEY, 1))
    assert subtypes(r.run(200), rid) == [1, 3, 7]


def test_a_signed_packet_stays_a_pus_c_tc_for_spacepackets_with_the_trailer_ending_its_data():
    raw = Rig("auth_spacepackets").tc(CMD_ARM)
    signed = auth.sign(raw, 1, KEY, 0x01020304)
    tc = PusTc.unpack(signed)
    assert (tc.service, tc.message_subtype) == (raw[7], raw[8])
    assert tc.app_data[:2] == raw[11:13]
    assert tc.app_data[2:7] == bytes([1, 1, 2, 3, 4])
    assert len(tc.app_data) == 2 + d.TRAILER_LEN


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_change_to_a_signed_arm_is_refused_and_nothing_arms(data):
    r = Rig("auth_property", keys=KEYS)
    r.run()
    good = bytearray(auth.sign(r.tc(CMD_ARM), 1, KEY, 7))
    i = data.draw(st.integers(0, len(good) - CRC_LEN - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    good[i] ^= flip
    rid = r.send_raw(_recrc(good))
    tms = r.run(200)
    assert not r.board.arm_out
    assert not r.board.burns
    assert 3 not in subtypes(tms, rid)  # never started (a changed header may name another request id)


def test_key_file_readable_by_everyone_is_refused(tmp_path):
    path = tmp_path / "keys"
    path.write_text("1 %s\n" % KEY.hex())
    path.chmod(0o644)
    with pytest.raises(UsageError, match="readable by everyone"):
        auth.load_keys(str(path))
    path.chmod(0o600)
    assert auth.load_keys(str(path)) == {1: KEY}


@pytest.mark.parametrize("line", ["1 abcd", "9 %s" % KEY.hex(), "x %s" % KEY.hex(), "1"])
def test_malformed_key_file_line_is_one_usage_error(tmp_path, line):
    path = tmp_path / "keys"
    path.write_text(line + "\n")
    path.chmod(0o600)
    with pytest.raises(UsageError, match="line 1"):
        auth.load_keys(str(path))


def test_signer_counter_never_goes_back_across_restarts(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# ops key\n1 %s\n" % KEY.hex())
    keys.chmod(0o600)
    counter = str(tmp_path / "tc_counter")
    first = auth.Signer(str(keys), counter)
    first.sign(b"\x18\xc1\xc0\x01\x00\x05\x2f\x11\x01\x00\x01\x00\x00")
    first.sign(b"\x18\xc1\xc0\x01\x00\x05\x2f\x11\x01\x00\x01\x00\x00")
    again = auth.Signer(str(keys), counter)
    packet = again.sign(b"\x18\xc1\xc0\x02\x00\x05\x2f\x11\x01\x00\x01\x00\x00")
    assert struct.unpack_from(">I", packet, len(packet) - CRC_LEN - d.MAC_LEN - 4)[0] == 3


def test_client_signs_when_configured_by_the_environment(tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    keys.write_text("1 %s\n" % KEY.hex())
    keys.chmod(0o600)
    monkeypatch.setenv("PAYLOAD_KEYS", str(keys))
    monkeypatch.delenv("PAYLOAD_KEY_ID", raising=False)
    signer = auth.default_signer(str(tmp_path))
    assert signer.kid == 1
    assert os.path.dirname(signer._file) == str(tmp_path)
    monkeypatch.delenv("PAYLOAD_KEYS")
    assert auth.default_signer(str(tmp_path)) is None
