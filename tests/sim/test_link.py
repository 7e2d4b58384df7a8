"""The link: UART pacing, latency, noise and the board's receive buffer (in-process), then end
to end through the sim."""

import asyncio
import random
import re
import time

from sim.link import RX_HELD, Line, Noise, Receiver
from tests.sim.simproc import ROOT, Sim

PAYLOAD = bytes(range(256)) * 2


def through_line(data, baud=115200, latency=0.0, seed=1, **rates):
    """Send ``data`` through one Line; returns (bytes out, seconds until the last byte, noise)."""
    noise = Noise()
    noise.rates.update(rates)
    out = bytearray()

    async def go():
        line = Line(baud, latency, noise, random.Random(seed), out.extend)
        task = asyncio.create_task(line.run())
        t0 = time.monotonic()
        line.put(data)
        while line.delivered < len(data) - noise.counts["dropped"] + noise.counts["duplicated"]:
            await asyncio.sleep(0.001)
        task.cancel()
        return time.monotonic() - t0

    elapsed = asyncio.run(go())
    return bytes(out), elapsed, noise


def test_bytes_leave_at_line_rate_ten_bits_each():
    out, elapsed, _ = through_line(PAYLOAD, baud=9600)
    line_s = len(PAYLOAD) * 10 / 9600
    assert out == PAYLOAD
    assert line_s <= elapsed < 1.5 * line_s


def test_latency_delays_every_byte():
    out, elapsed, _ = through_line(b"x", latency=0.3)
    assert out == b"x" and 0.3 <= elapsed < 0.6


def test_noise_flips_drops_duplicates_and_reorders_bytes_and_counts_them():
    out, _, noise = through_line(PAYLOAD * 4, flip=0.1, drop=0.1, dup=0.1, reorder=0.1)
    counts = noise.counts
    assert all(0.05 * len(PAYLOAD) * 4 < n < 0.15 * len(PAYLOAD) * 4 for n in counts.values()), counts
    assert len(out) == len(PAYLOAD) * 4 - counts["dropped"] + counts["duplicated"]


def test_same_seed_gives_the_same_noise():
    runs = [through_line(PAYLOAD, seed=seed, flip=0.2, drop=0.05, dup=0.05)[0] for seed in (5, 5, 6)]
    assert runs[0] == runs[1] != runs[2]


def round_trip(*args):
    with Sim(*args) as s:
        link = s.probe_link()
        line = "echo " + "x" * 200
        t0 = time.monotonic()
        assert link.ask(line) == line
        return time.monotonic() - t0


def test_the_board_link_is_paced_at_the_chosen_baud_rate():
    line_s = len("echo " + "x" * 200 + "\n") * 10 / 9600
    assert round_trip("--baud", "9600") >= 2 * line_s  # the probe answers a whole line
    assert round_trip() < line_s


def test_latency_option_delays_the_board_link_both_ways():
    assert round_trip("--latency", "0.3") >= 0.6


def test_reorder_swaps_a_byte_with_the_next_one_and_counts_it():
    out, _, noise = through_line(PAYLOAD * 4, reorder=0.2)
    assert noise.counts["reordered"] > 0
    assert sorted(out) == sorted(PAYLOAD * 4) and out != PAYLOAD * 4  # same bytes, other order


def test_a_full_receive_buffer_loses_what_arrives_counts_it_and_takes_bytes_again_once_read():
    rx = Receiver(capacity=8)
    assert rx.receive(b"01234567") == b"01234567"  # exactly full: nothing lost
    assert rx.receive(b"89") == b"" and rx.lost == 2
    rx.read(3)  # the firmware makes room: the next bytes are kept, in order
    assert rx.receive(b"abcde") == b"abc" and rx.lost == 4
    rx.read(8)
    assert rx.receive(b"fg") == b"fg" and (rx.held, rx.lost) == (2, 4)
    rx.clear()  # a reset empties it
    assert rx.receive(b"h" * 9) == b"h" * 8 and rx.lost == 5


def test_the_receive_buffer_holds_the_board_files_ring_and_the_data_register():
    rxbuf = re.search(r"machine\.UART\(2, .*rxbuf=(\d+)", (ROOT / "firmware" / "board_nucleo.py").read_text())
    assert Receiver().capacity == RX_HELD == int(rxbuf.group(1)) + 1
