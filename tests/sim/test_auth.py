"""Authenticated telecommands on the simulated board with a key installed (python -m sim --keys):
forged, altered, replayed and truncated commands are refused and nothing fires; the operator's
signed commands work, through the ground client's own signing too; ABORT works unsigned."""

import struct

from firmware import dictionary as d
from firmware import framing
from firmware.packet import CRC_LEN, crc16, encode_tc
from ground import auth
from ground.client import Client
from tests.sim.test_firmware import _ENDS, Ground, start

KEY = bytes(range(7, 39))


def _recrc(body):
    body = bytes(body)
    return body + struct.pack(">H", crc16(body, len(body)))


class Operator(Ground):
    """Ground with raw packets: signed by ``key`` with counters from 1, or altered by hand."""

    def __init__(self, link):
        super().__init__(link)
        self.count = 0

    def packet(self, name, *args):
        c = d.command(name)
        data = (struct.pack(">H", c.function) if c.function else b"") + struct.pack(d.fmt(c.args), *args)
        self.pus.seq += 1
        return encode_tc(c.service, c.subtype, data, seq=self.pus.seq)

    def signed(self, name, *args, key=KEY):
        self.count += 1
        return auth.sign(self.packet(name, *args), 1, key, self.count)

    def outcome(self, packet):
        self.pus.tms.clear()  # a resend's request id was answered before
        self.pus.link.send(framing.frame(packet))
        rid = packet[:4]
        tm = self.pus.wait(lambda tm: tm.service == 1 and tm.data[:4] == rid and tm.subtype in _ENDS, 5.0, "outcome")
        values = struct.unpack(d.fmt(_ENDS[tm.subtype].fields), tm.data)
        return _ENDS[tm.subtype].name, (d.FAILURE_NAMES.text(values[1]) if len(values) > 1 else None)


def test_with_a_key_only_the_operators_signed_commands_run_and_abort_needs_none(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("1 %s\n" % KEY.hex())
    keys.chmod(0o600)
    with start("--keys", str(keys)) as s:
        link = s.link()
        g = Operator(link).booted()
        arm = g.signed("ARM")
        assert g.outcome(arm) == ("COMPLETED", None)
        assert g.outcome(g.packet("FIRE", 1)) == ("ACCEPT_FAILED", "AUTH_MISSING")
        assert g.outcome(g.signed("FIRE", 1, key=bytes(32))) == ("ACCEPT_FAILED", "AUTH_MAC")
        altered = bytearray(g.signed("FIRE", 1))
        altered[13] = 2  # slot 2 instead of 1, the CRC made good again
        assert g.outcome(_recrc(altered[:-CRC_LEN])) == ("ACCEPT_FAILED", "AUTH_MAC")
        cut = bytearray(g.signed("FIRE", 1)[:-CRC_LEN - 4])
        struct.pack_into(">H", cut, 4, len(cut) + CRC_LEN - 7)
        assert g.outcome(_recrc(cut)) == ("ACCEPT_FAILED", "AUTH_TRUNCATED")
        assert g.outcome(arm) == ("ACCEPT_FAILED", "DUPLICATE")  # a byte-identical replay
        g.count = 0
        assert g.outcome(g.signed("FIRE", 1)) == ("ACCEPT_FAILED", "AUTH_REPLAY")  # a used counter
        assert s.do("burns")["burns"] == []
        assert g.outcome(g.packet("ABORT")) == ("COMPLETED", None)
        link.close()

        counter = tmp_path / "tc_counter"  # none yet: a ground whose counter is behind the payload's
        seq = tmp_path / "tc_seq"
        seq.write_text("100\n")  # ahead of the raw operator's sequence counts
        with Client(s.ports["link"], seq_file=str(seq), signer=auth.Signer(str(keys), str(counter))) as c:
            armed = c.send("ARM", confirm=True)
            c.send("FIRE", 1, confirm=True, timeout=10)
        assert armed.resequenced and armed.stages[0].code == d.AUTH_REPLAY  # signed again a lease on
        assert [b["slot"] for b in s.do("burns")["burns"]] == [1]
        assert int(counter.read_text()) == 1 + d.KEY_LEASE + 2
