"""On-board time: CCSDS CDS days and milliseconds of day, plus uptime.

Before ground correlates it (TIME_SET), on-board time is uptime since boot
(day 0 = boot). It is kept as two small integers that the loop advances by the
ticks elapsed since the previous update: a CDS time in ms would need 42 bits,
past MicroPython's 31-bit small ints, and a big int allocates.
"""

from micropython import const

_MS_PER_DAY = const(86400000)


class Clock:
    def __init__(self, board):
        self._board = board
        self.now = board.ticks_ms()  # ticks of the last update, for everyone in this loop
        self.days = 0
        self.ms = 0
        self.correlated = False
        self.uptime_s = 0
        self._uptime_ms = 0  # part of a second not yet counted in uptime_s

    def update(self):
        t = self._board.ticks_ms()
        dt = self._board.ticks_diff(t, self.now)
        self.now = t
        self.ms += dt
        while self.ms >= _MS_PER_DAY:
            self.ms -= _MS_PER_DAY
            self.days = (self.days + 1) & 0xFFFF  # CDS short's 16-bit day count wraps (in 2137)
        self._uptime_ms += dt
        while self._uptime_ms >= 1000:
            self._uptime_ms -= 1000
            self.uptime_s += 1

    def set(self, days, ms):
        """Correlate to ground time (TIME_SET)."""
        self.days = days
        self.ms = ms
        self.correlated = True

    def reached(self, days, ms):
        """True once on-board time is at or after ``days``/``ms``."""
        return self.days > days or (self.days == days and self.ms >= ms)

    def since(self, t0):
        """Milliseconds from ticks ``t0`` to the last update."""
        return self._board.ticks_diff(self.now, t0)
