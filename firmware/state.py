"""The state record (record 1): what must survive a reset to keep releases safe.

Layout, big-endian; the record buffer is the state itself (``slots`` and
``attempts`` are views into it), so saving it is one write::

    boot_count u16 | slot state u8 x4 | attempts u8 x4 | next u8 | used u8
    | request id, low half u16 x14 | outcome u8 x14 | newest seq u16 | window u16
    | (generation and CRC-16 added by the store)

58 bytes: with the store's 6 the file fits in its littlefs directory entry (64 bytes
inline at most), so a flash save rewrites one sector, not two. A request id's high
half (version, type, APID) is the same for every TC accepted, so its low half
(sequence flags and count) names it. Slot states and burn counts go to flash
before every burn and after every change, so the burns of a slot stay bounded
across resets and power losses. A change seen while an actuator is on (another
slot's satellite leaving) reaches flash once it is off: a power loss without
VBAT before then takes it back, and after the boot the slot's switch sets it
again (EARLY_RELEASE). The last 14 request ids and their outcomes (0
success, a failure code, or EXECUTING) make a telecommand repeated after a reset
still a duplicate. At boot a slot found FIRING becomes UNKNOWN and an outcome
found EXECUTING becomes ABORTED: the reset ended it. Without a valid record every
slot starts UNKNOWN, resolved by its switch.

The ring alone forgets a request id after 14 newer ones, so telecommands from the
link also pass an anti-replay window on their 14-bit sequence count (as IPsec's):
"newest seq" is the newest count accepted (0xFFFF: none yet) and bit i of
"window" says whether count newest - i was accepted. A count newer than newest
runs; one in the window runs if its bit is clear (a retry of a command lost on
the way up); anything older is STALE: it may have run, so it never runs again.
Every count the link had accepted in the window is still in the ring, whose 14
entries can hold the whole window, so a repeat there gets its recorded outcome;
a count admitted for a telecommand that SCHED_INSERT nests (its reservation) is
in the window alone until its release: a repeat of it is STALE.

What the ring and the window mean for a telecommand, and when a record goes to flash
as well as to the backup SRAM, is the exactly-once rule of firmware/verification.py,
the only module that records request ids.
"""

import struct

from micropython import const

from firmware.tables import ABORTED, EV_SLOT_UNKNOWN, EXECUTING, N_SLOTS, REC_STATE, SLOT_FIRING, UNKNOWN

N_RECENT = const(14)
_NEXT = const(10)
_USED = const(11)
_RIDS = const(12)
_OUTCOMES = const(40)  # _RIDS + 2 * N_RECENT
_NEWEST = const(54)  # _OUTCOMES + N_RECENT; then the window u16
_SIZE = const(58)
_WINDOW = const(0x3FFF)  # (1 << N_RECENT) - 1
_RID_LOW = const(0xFFFF)
_NONE = const(0xFFFF)  # no sequence count accepted yet
_SEQ_MASK = const(0x3FFF)
_HALF = const(0x2000)  # counts up to half the 14-bit space ahead are newer, the rest older


class State:
    def __init__(self, store, tm):
        self._store = store
        self._tm = tm
        self._buf = bytearray(_SIZE)
        self.slots = memoryview(self._buf)[2:2 + N_SLOTS]
        self.attempts = memoryview(self._buf)[2 + N_SLOTS:2 + 2 * N_SLOTS]
        self.boot_count = 0

    def boot(self):
        """Load the record, count this boot, settle what the reset interrupted."""
        b = self._buf
        if self._store.load(REC_STATE, b):
            self.boot_count = b[0] << 8 | b[1]
        else:  # nothing known of the slots: their switches decide (SLOT_RESOLVED)
            b[:] = bytes(_SIZE)
            for s in range(N_SLOTS):
                self.slots[s] = UNKNOWN
            struct.pack_into(">H", b, _NEWEST, _NONE)
        self.boot_count = (self.boot_count + 1) & 0xFFFF
        struct.pack_into(">H", b, 0, self.boot_count)
        b[_NEXT] %= N_RECENT
        b[_USED] = min(b[_USED], N_RECENT)
        for i in range(b[_USED]):
            if b[_OUTCOMES + i] == EXECUTING:
                b[_OUTCOMES + i] = ABORTED
        for s in range(N_SLOTS):
            if self.slots[s] > UNKNOWN:
                self.slots[s] = UNKNOWN
            elif self.slots[s] == SLOT_FIRING:
                self.slots[s] = UNKNOWN
                self._tm.event(EV_SLOT_UNKNOWN, s + 1)
        self.save(True)

    def save(self, durable):
        """Save the record: backup SRAM, and flash if ``durable``; False if the flash refused."""
        return self._store.save(REC_STATE, self._buf, durable)

    def set_slot(self, s, state):
        self.slots[s] = state
        self.save(True)

    def _find(self, rid):
        low = rid & _RID_LOW
        b = self._buf
        for i in range(b[_USED]):
            if b[_RIDS + 2 * i] << 8 | b[_RIDS + 2 * i + 1] == low:
                return i
        return -1

    def outcome(self, rid):
        """The recorded outcome of request id ``rid``, or -1 if it was not seen."""
        i = self._find(rid)
        return self._buf[_OUTCOMES + i] if i >= 0 else -1

    def newest(self):
        """The newest sequence count accepted from the link, or 0xFFFF if none yet."""
        return struct.unpack_from(">H", self._buf, _NEWEST)[0]

    def stale(self, seq):
        """True if a link TC with count ``seq`` must not run: older than the window, or
        in it and accepted already (then its outcome has left the ring: never expected)."""
        newest, window = struct.unpack_from(">HH", self._buf, _NEWEST)
        if newest == _NONE:
            return False
        behind = (newest - seq) & _SEQ_MASK
        if behind >= _HALF:
            return False  # newer than any accepted
        return behind >= N_RECENT or bool(window >> behind & 1)

    def admit(self, seq):
        """Mark link count ``seq`` accepted (saved with the record ``record`` writes next)."""
        newest, window = struct.unpack_from(">HH", self._buf, _NEWEST)
        behind = (newest - seq) & _SEQ_MASK
        if newest == _NONE or behind >= _HALF:  # a new newest: slide the window
            ahead = (seq - newest) & _SEQ_MASK
            window = ((window << ahead) & _WINDOW | 1) if newest != _NONE and ahead < N_RECENT else 1
            newest = seq
        else:
            window |= 1 << behind
        struct.pack_into(">HH", self._buf, _NEWEST, newest, window)

    def record(self, rid, code, durable):
        """Record the outcome of a new ``rid`` (0, a failure code, or EXECUTING); saved."""
        b = self._buf
        i = b[_NEXT]
        struct.pack_into(">H", b, _RIDS + 2 * i, rid & _RID_LOW)
        b[_NEXT] = (i + 1) % N_RECENT
        b[_USED] = min(b[_USED] + 1, N_RECENT)
        self.end(rid, code, durable)

    def end(self, rid, code, durable):
        """The outcome of ``rid`` is now known (0 or a failure code); saved, to flash if ``durable``.

        A long FIRE_SEQUENCE may outlive its entry (14 newer commands): then
        there is nothing left to update.
        """
        i = self._find(rid)
        if i >= 0:
            self._buf[_OUTCOMES + i] = code
            self.save(durable)
