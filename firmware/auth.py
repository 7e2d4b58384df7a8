"""Authenticated telecommands: the keys, the MAC check and the anti-replay counter.

A signed TC is a PUS-C TC whose application data ends with a trailer, before the CRC
(the packet length field counts it; spacepackets parses the packet as any other)::

    byte  0-10        TC header (firmware/packet.py)
          11..        application data: the command's arguments (PUS 8: function id first)
          n-23        key id u8 (1..N_KEYS)
          n-22..n-19  counter u32, anti-replay: one more per signed command from the ground
          n-18..n-3   MAC: the first MAC_LEN (16) bytes of HMAC-SHA256 under the key, over
                      bytes 0..n-19 (header, arguments, key id, counter)
          n-2..n-1    CRC-16 over everything before it (n: the packet's length)

A command without arguments after its own (SCHED_INSERT's nested TC is measured by its
own length field) and without a trailer is unsigned. Keys: the file ``keys`` at the flash
root, N_KEYS x 32 bytes (key id k at (k - 1) * 32; all zeros: none), written when the
board is flashed (``make flash KEYS=file``), read once at boot, never sent. The AUTH
record (firmware/store.py) holds what changes::

    active key ids u8 (bit k - 1) | revoked << 4 | newest counter u32 | window u16

Once a key was ever in use, a TC from the link needs a trailer whose key is ACTIVE (or,
for KEY_ACTIVATE, is the key it activates), a MAC that matches, and a fresh counter: newer
than the newest accepted, or at most 15 behind it and not accepted yet (bit i of window:
counter newest - i was), so reordered frames still pass. The trailer is checked as soon as
the command is identified, before its length, arguments and request id: an altered packet
is refused AUTH_KEY or AUTH_MAC (UNKNOWN_COMMAND if the change names no command; dropped if
it names another APID) and reaches no handler. Then a byte-identical resend of an accepted
one is DUPLICATE with its outcome (firmware/verification.py), before its counter is judged
(AUTH_REPLAY). ABORT and SAFE only make the payload safer: they need nothing (a
trailer on them is ignored), so key trouble never blocks an emergency, and they are not
recorded, so an unsigned one cannot spend a request id or a sequence count that the
operator's next command will use. Nothing locks out: a refusal changes no state, but
for BUSY, which spends the counter of the signed command it refuses (firmware/verification.py).

The counter goes to the backup SRAM at every signed command; a lease, the counter plus
KEY_LEASE (window full), goes to flash when the counter reaches the last one (and at the
first signed command after a boot): a power loss without VBAT skips the counter ahead by
up to KEY_LEASE, never back, and the ground's signer skips with it (ground/auth.py). No
lease is written while an actuator is on (``due``: such a command is refused BUSY).
Without a valid AUTH record (the first boot after the keys were installed, or a record
lost), the lowest installed key is put in use: a lost record never switches
authentication off. Counters stay below 0x3FFF0000 (small ints on the board).
"""

import hashlib
import struct

from micropython import const

from firmware import tables as T
from firmware.packet import TC_HEADER

_KEY = const(32)
_BLOCK = const(64)  # SHA-256's block: the HMAC key pads
_FMT = ">BIH"
_SPAN = const(16)  # counters the window remembers behind the newest
_MASK = const(0xFFFF)
_LIMIT = const(0x3FFF0000)  # counters stay small ints (30 bits), leases included


class Auth:
    def __init__(self, board, store, tm):
        self._store = store
        self._tm = tm
        self._buf = bytearray(7)
        self._keys = bytearray(T.N_KEYS * _KEY)
        self._pad = bytearray(_BLOCK)
        self.rejected = 0  # reported in housekeeping
        # the TC judged last: its signer (0: not signed) and counter, and what they mean
        self.key = self.count = 0
        self.stale = self.due = False  # the counter was taken or is too old; admitting it writes a lease
        self.newest = self.window = self._lease = 0
        try:
            with open(board.fs_root + "/keys", "rb") as f:
                f.readinto(self._keys)
        except OSError:
            pass
        if store.load(T.REC_AUTH, self._buf):
            _, self.newest, self.window = struct.unpack(_FMT, self._buf)
        else:
            for k in range(1, T.N_KEYS + 1):  # the lowest installed key: authentication stays on
                if self._has(k):
                    self._buf[0] = 1 << (k - 1)
                    self._tm.event(T.EV_KEY_CHANGED, k, T.KEY_ACTIVE)
                    break
            self._save(True)  # on flash too: the store writes a record found in the backup SRAM alone to flash
        self._lease = self.newest  # the first signed command after a boot writes a new lease

    def _has(self, k):
        """True if key ``k`` is installed and not revoked."""
        return 1 <= k <= T.N_KEYS and not self._buf[0] >> (k + 3) & 1 and any(self._keys[(k - 1) * _KEY:k * _KEY])

    def open(self, i):
        """True if command ``i`` runs without authentication and unrecorded: ABORT or SAFE with a key in use."""
        return self._buf[0] and i in (T.CMD_ABORT, T.CMD_SAFE)

    def check(self, buf, tc, extra, i):
        """0, or why ``tc`` (command ``i``; ``extra``: data bytes after its arguments) fails its
        MAC check: AUTH_MISSING, AUTH_TRUNCATED, AUTH_KEY, AUTH_MAC. A trailer leaves tc.data_len."""
        self.key = 0
        self.stale = self.due = False
        bits = self._buf[0]
        if extra >= T.TRAILER_LEN:
            tc.data_len -= T.TRAILER_LEN
        if self.open(i) or (extra < T.TRAILER_LEN and not bits):
            return 0  # (unsigned with no key in use: an extra byte is BAD_LENGTH later)
        if extra < T.TRAILER_LEN:
            return T.AUTH_TRUNCATED if extra else T.AUTH_MISSING
        n = TC_HEADER + tc.data_len
        k = buf[n]
        if not self._has(k) or not (bits >> (k - 1) & 1 or (i == T.CMD_KEY_ACTIVATE and buf[n - 1] == k)):
            return T.AUTH_KEY
        mac = self._mac(k, buf, n + 5)
        d = 0
        for j in range(T.MAC_LEN):  # every byte, whatever the first difference: constant time
            d |= mac[j] ^ buf[n + 5 + j]
        if d:
            return T.AUTH_MAC
        self.key = k
        self.count = c = struct.unpack_from(">I", buf, n + 1)[0]
        behind = self.newest - c
        self.stale = c >= _LIMIT or behind >= _SPAN or (behind >= 0 and self.window >> behind & 1)
        self.due = c >= self._lease
        return 0

    def _mac(self, k, buf, n):
        """HMAC-SHA256 of ``buf[:n]`` under key ``k`` (RFC 2104: the key is shorter than a block)."""
        pad = self._pad
        keys = self._keys
        o = (k - 1) * _KEY
        for j in range(_BLOCK):
            pad[j] = (keys[o + j] if j < _KEY else 0) ^ 0x36
        h = hashlib.sha256(pad)
        h.update(memoryview(buf)[:n])
        inner = h.digest()
        for j in range(_BLOCK):
            pad[j] ^= 0x6A  # 0x36 ^ 0x5C: the inner pad becomes the outer one
        h = hashlib.sha256(pad)
        h.update(inner)
        return h.digest()

    def admit(self):
        """Take the counter of the signed TC just checked (saved at once: a lease on flash when due)."""
        c = self.count
        if not self.key:
            return
        if c > self.newest:
            ahead = c - self.newest
            self.window = ((self.window & _MASK >> ahead) << ahead | 1) if ahead < _SPAN else 1
            self.newest = c
        else:
            self.window |= 1 << (self.newest - c)
        self._save(self.due)

    def set(self, k, on):
        """KEY_ACTIVATE (``on``) or KEY_REVOKE key ``k``: 0, or AUTH_KEY (none installed, or revoked)."""
        b = self._buf
        if not self._has(k):
            return T.AUTH_KEY
        bit = 1 << (k - 1)
        b[0] = b[0] | bit if on else (b[0] & ~bit) | bit << 4
        self._tm.event(T.EV_KEY_CHANGED, k, T.KEY_ACTIVE if on else T.KEY_REVOKED)
        return 0 if self._save(True) else T.STORAGE

    def _save(self, durable):
        """To the backup SRAM; if ``durable``, first a lease to flash (and the backup) too."""
        b = self._buf
        ok = True
        if durable:
            self._lease = min(self.newest + T.KEY_LEASE, _LIMIT)
            struct.pack_into(_FMT, b, 0, b[0], self._lease, _MASK)
            ok = self._store.save(T.REC_AUTH, b, True)
        struct.pack_into(_FMT, b, 0, b[0], self.newest, self.window)
        self._store.save(T.REC_AUTH, b, False)
        return ok
