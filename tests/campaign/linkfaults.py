"""Link faults while commanding: bit flips, dropped, duplicated and reordered bytes at rising rates.

At each rate the sim's noise flips, drops, duplicates and reorders (swaps with the next)
bytes both ways while the ground sends PINGs (each with the Client's retries, which resend
the same request id after a silence, so a lost completion comes back as the recorded
outcome). Afterwards, with the noise off, the board's own counters tell how many commands
it executed. A command must complete exactly once or fail visibly, and the ground's verdict
must not contradict the board:

- the ground never reports more successes than the board executed;
- the ground never reports more failures than the PINGs the board did not run (a PING
  that runs always succeeds);
- the board never executes more commands than were sent (a retry is never run twice);
- every command ends COMPLETED, FAILED or TIMEOUT (none left pending).

TIMEOUT ("outcome unknown") is no violation but is counted: the aim is none up to 1e-3
per byte.

Frames dropped for a bad CRC (and for bad COBS or length) are counted on both sides and
set next to the bytes the sim corrupted.
"""

import time
from dataclasses import dataclass, field

from ground.client import COMPLETED, FAILED, TIMEOUT
from tests.campaign.rig import Board, fresh_hk

RATES = (0.0, 1e-4, 1e-3, 3e-3, 1e-2)  # per byte, for each of flip, drop, dup and reorder
_DROPS = ("crc_errors", "oversize", "undecodable")


@dataclass
class Level:
    rate: float
    sent: int = 0
    completed: int = 0
    failed: int = 0
    timeouts: int = 0
    executed: int = 0
    corrupted: int = 0  # bytes the sim flipped, dropped or duplicated (both directions)
    reordered: int = 0  # bytes the sim swapped with the next one (both directions)
    board_drops: int = 0  # uplink frames the firmware dropped (CRC, COBS, length)
    ground_drops: int = 0  # downlink frames the ground dropped
    crc_board: int = 0
    crc_ground: int = 0
    violations: list = field(default_factory=list)


def _noise_counts(board):
    """(bytes flipped, dropped or duplicated; bytes reordered) so far, both directions."""
    link = board.do("state")["link"]
    return link["flipped"] + link["dropped"] + link["duplicated"], link["reordered"]


def level(board, c, rate, commands):
    """``commands`` PINGs under noise ``rate``; the Level with its counts and violations."""
    lv = Level(rate)
    before = fresh_hk(c)
    f = c.link.deframer
    ground0 = [getattr(f, k) for k in _DROPS]
    noise0 = _noise_counts(board)
    board.do("inject", fault="noise", flip=rate, drop=rate, dup=rate, reorder=rate)
    vs = [c.send("PING", check=False, timeout=1.0, retries=3) for _ in range(commands)]
    board.do("clear", fault="noise")
    noise1 = _noise_counts(board)
    lv.corrupted, lv.reordered = noise1[0] - noise0[0], noise1[1] - noise0[1]
    time.sleep(0.3)  # let frames in flight land before counting
    after = fresh_hk(c)
    lv.sent = len(vs)
    lv.completed = sum(v.status == COMPLETED for v in vs)
    lv.failed = sum(v.status == FAILED for v in vs)
    lv.timeouts = sum(v.status == TIMEOUT for v in vs)
    lv.executed = after.values["tc_accepted"] - before.values["tc_accepted"] - 1  # minus the HK_ONE_SHOT
    lv.board_drops = sum(after.values[k] - before.values[k] for k in _DROPS)
    lv.crc_board = after.values["crc_errors"] - before.values["crc_errors"]
    lv.ground_drops = sum(getattr(f, k) for k in _DROPS) - sum(ground0)
    lv.crc_ground = f.crc_errors - ground0[0]
    if lv.completed > lv.executed:
        lv.violations.append("%d COMPLETED on the ground, %d executed on board" % (lv.completed, lv.executed))
    if lv.failed > lv.sent - lv.executed:
        lv.violations.append("%d FAILED on the ground, only %d not executed on board" % (
            lv.failed, lv.sent - lv.executed))
    if lv.executed > lv.sent:
        lv.violations.append("%d executed on board, only %d sent" % (lv.executed, lv.sent))
    if lv.completed + lv.failed + lv.timeouts != lv.sent:
        lv.violations.append("%d commands ended neither COMPLETED, FAILED nor TIMEOUT"
                             % (lv.sent - lv.completed - lv.failed - lv.timeouts))
    if rate == 0 and (lv.corrupted or lv.reordered or lv.board_drops or lv.ground_drops or lv.completed != lv.sent):
        lv.violations.append("errors on a clean link")
    return lv


def campaign(commands=40, rates=RATES, seed=7, log=print):
    """Every rate in turn on one board; returns the Levels."""
    out = []
    with Board(seed) as board, board.client() as c:
        for rate in rates:
            lv = level(board, c, rate, commands)
            log(line(lv))
            out.append(lv)
    return out


def line(lv):
    verdict = "ok" if not lv.violations else "VIOLATION: " + "; ".join(lv.violations)
    return ("  rate %.0e/byte: %d sent, %d completed, %d failed, %d unknown (timed out); board executed %d; "
            "bytes corrupted %d, reordered %d; frames dropped board %d (CRC %d), ground %d (CRC %d): %s" % (
                lv.rate, lv.sent, lv.completed, lv.failed, lv.timeouts, lv.executed, lv.corrupted, lv.reordered,
                lv.board_drops, lv.crc_board, lv.ground_drops, lv.crc_ground, verdict))
