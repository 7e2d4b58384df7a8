"""One direction of the simulated UART: noise, pacing at the line rate, latency; and the
board's receive buffer, which loses what arrives while it is full.

Noise per byte: a bit flipped, the byte dropped, sent twice, or swapped with the next
byte of the same write (reorder).

A byte is 10 bit times on the wire (8N1); ``Line`` schedules each byte when the
previous one has left, adds the latency, and hands due bytes to its sink in
batches. Noise draws come from the Line's own seeded RNG, so each direction
repeats its draws for a given seed whatever the other one does.
"""

import asyncio
import collections
import time

_TIMER_SLACK = 0.0015  # s: asyncio's selector rounds timeouts up to whole milliseconds
# What the board's UART holds unread: the ring of firmware/board_nucleo.py (rxbuf=1024; the port
# allocates one slot more and keeps it free) plus the byte left in the data register when the
# ring is full (ports/stm32/uart.c uart_irq_handler; sim/README.md, the audit).
RX_HELD = 1024 + 1


class Noise:
    """Per-byte link noise, the same rates both ways; counts what it did."""

    def __init__(self):
        self.rates = {"flip": 0.0, "drop": 0.0, "dup": 0.0, "reorder": 0.0}
        self.counts = {"flipped": 0, "dropped": 0, "duplicated": 0, "reordered": 0}

    def apply(self, byte, rng):
        if rng.random() < self.rates["drop"]:
            self.counts["dropped"] += 1
            return ()
        if rng.random() < self.rates["flip"]:
            self.counts["flipped"] += 1
            byte ^= 1 << rng.randrange(8)
        if rng.random() < self.rates["dup"]:
            self.counts["duplicated"] += 1
            return (byte, byte)
        return (byte,)


class Line:
    """One direction of the UART: noise, then one byte per 10 bit times, then the latency."""

    def __init__(self, baud, latency, noise, rng, sink):
        self._byte_s = 10 / baud
        self._latency = latency
        self._noise = noise
        self._rng = rng
        self._sink = sink
        self._queue = collections.deque()  # (due time, byte)
        self._busy_until = 0.0
        self._wake = asyncio.Event()
        self.delivered = 0

    def put(self, data):
        now = time.monotonic()
        held = None  # a byte that swaps places with the next one (reorder), within this write
        for b in data:
            for out in self._noise.apply(b, self._rng):
                if held is None and self._rng.random() < self._noise.rates["reorder"]:
                    held = out
                    self._noise.counts["reordered"] += 1
                    continue
                self._send(now, out)
                if held is not None:
                    self._send(now, held)
                    held = None
        if held is not None:  # nothing came after it in this write
            self._send(now, held)
        self._wake.set()

    def _send(self, now, byte):
        self._busy_until = max(now, self._busy_until) + self._byte_s
        self._queue.append((self._busy_until + self._latency, byte))

    async def run(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                wait = self._queue[0][0] - time.monotonic()
                if wait > _TIMER_SLACK:  # the event loop's timers wake up to 1 ms late...
                    await asyncio.sleep(wait - _TIMER_SLACK)
                    wait = self._queue[0][0] - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # ...so the last stretch is a precise sleep (< 1.5 ms)
                now = time.monotonic()
                out = bytearray()
                while self._queue and self._queue[0][0] <= now:
                    out.append(self._queue.popleft()[1])
                self.delivered += len(out)
                self._sink(bytes(out))
                await asyncio.sleep(0)  # a busy line must not starve the other tasks


class Receiver:
    """The board's UART receive side, as the hardware sees it: bytes the firmware has not read
    yet wait in a buffer of ``capacity``; what arrives while it is full is lost and counted
    (the USART's overrun), and reception goes on as soon as the firmware reads."""

    def __init__(self, capacity=RX_HELD):
        self.capacity = capacity
        self.held = 0  # received, not read yet
        self.lost = 0

    def receive(self, data):
        """The part of ``data`` the buffer takes (the rest is lost)."""
        kept = data[: self.capacity - self.held]
        self.lost += len(data) - len(kept)
        self.held += len(kept)
        return kept

    def read(self, n):
        """The firmware read ``n`` bytes."""
        self.held -= n

    def clear(self):
        """A reset: the buffer starts empty."""
        self.held = 0
