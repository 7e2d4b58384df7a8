"""Decode hex-encoded frames to plain values, identically under CPython and MicroPython.

tests/test_link_properties.py runs ``decode(frames)`` in both runtimes and compares.
"""

from firmware import framing, packet


def decode(hex_frames):
    out = []
    tc = packet.Tc()

    def on_packet(buf, n):
        if tc.parse(buf, n):
            out.append(["tc", tc.service, tc.subtype, tc.seq, tc.ack, tc.source, tc.request_id,
                        bytes(buf[packet.TC_HEADER:packet.TC_HEADER + tc.data_len]).hex()])
        else:
            tm = packet.decode_tm(buf, n)
            out.append(["tm", tm.service, tm.subtype, tm.seq, tm.days, tm.ms, tm.data.hex()])
        return True

    d = framing.Deframer()
    for f in hex_frames:
        d.feed(bytes.fromhex(f), on_packet)
    return out


def main():
    import json
    import sys

    print(json.dumps(decode(line.strip() for line in sys.stdin)))
