"""Signing telecommands (docs/ICD.md, "Authentication"; the payload's side: firmware/auth.py).

A key file holds one key a line, ``KEY_ID HEX`` (32 bytes as 64 hex digits; ``#`` starts a
comment). It must not be readable by everyone: a key another user can read is no key. The
same file installs the keys on the board (``make flash KEYS=file``, ``python -m sim --keys
file``: ``blob``) and configures the ground: with ``$PAYLOAD_KEYS`` set, whatever assigns
sequence counts (the ground server when it runs, else the client) signs every command with
the key ``$PAYLOAD_KEY_ID`` (default: the file's lowest) and a counter kept in a file that
is written before the counter is used, so it never goes back, across ground restarts too.
A command refused AUTH_REPLAY on its first attempt is signed again a lease (KEY_LEASE) further
on and resent, once (ground/client.py): the payload's counter skips that far after a power loss.
"""

import hashlib
import hmac
import os
import stat
import struct
import threading

from firmware import dictionary as d
from firmware.packet import CRC_LEN, crc16
from ground.errors import GroundError, UsageError

KEY_LEN = 32


def load_keys(path):
    """{key id: key bytes} of key file ``path``; UsageError for a missing, unsafe or malformed file."""
    try:
        mode = os.stat(path).st_mode
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError("cannot read key file %s: %s" % (path, e.strerror))
    if mode & stat.S_IROTH:
        raise UsageError("key file %s is readable by everyone: chmod 600 %s" % (path, path))
    keys = {}
    for n, line in enumerate(lines, 1):
        words = line.split("#")[0].split()
        if not words:
            continue
        try:
            kid, key = int(words[0]), bytes.fromhex(words[1])
        except (ValueError, IndexError):
            kid, key = 0, b""
        if len(words) != 2 or not 1 <= kid <= d.N_KEYS or len(key) != KEY_LEN or kid in keys:
            raise UsageError("key file %s line %d: expected KEY_ID (1..%d, once) and %d hex digits"
                             % (path, n, d.N_KEYS, 2 * KEY_LEN))
        keys[kid] = key
    if not keys:
        raise UsageError("key file %s holds no key" % path)
    return keys


def blob(keys):
    """The board's keys file: N_KEYS x 32 bytes, key id k at (k - 1) * 32, zeros where none."""
    out = bytearray(d.N_KEYS * KEY_LEN)
    for kid, key in keys.items():
        out[(kid - 1) * KEY_LEN:kid * KEY_LEN] = key
    return bytes(out)


def sign(packet, kid, key, counter):
    """``packet`` (a whole TC) with the trailer of key ``kid`` and ``counter``, its length and CRC redone."""
    body = bytearray(packet[:-CRC_LEN]) + struct.pack(">BI", kid, counter)
    struct.pack_into(">H", body, 4, len(body) + d.MAC_LEN + CRC_LEN - 7)
    body += hmac.new(key, bytes(body), hashlib.sha256).digest()[:d.MAC_LEN]
    return bytes(body) + struct.pack(">H", crc16(body, len(body)))


class Signer:
    """Signs with one key of a key file; the counter lives in ``counter_file``."""

    def __init__(self, key_file, counter_file, kid=None):
        keys = load_keys(key_file)
        self.kid = min(keys) if kid is None else kid
        if self.kid not in keys:
            raise UsageError("key file %s has no key %d" % (key_file, self.kid))
        self._key = keys[self.kid]
        self._file = counter_file
        self._lock = threading.Lock()
        try:
            with open(counter_file) as f:
                self.counter = int(f.read().strip())
        except FileNotFoundError:
            self.counter = 0
        except (OSError, ValueError) as e:
            raise UsageError("cannot read the signing counter %s: %s" % (counter_file, e))

    def skip(self):
        """Jump the counter a lease ahead: the payload refused it AUTH_REPLAY (after a power loss
        without VBAT it goes on from its lease on flash, up to KEY_LEASE ahead; firmware/auth.py)."""
        with self._lock:
            self.counter += d.KEY_LEASE

    def sign(self, packet):
        with self._lock:
            self.counter += 1
            tmp = self._file + ".tmp"
            try:
                with open(tmp, "w") as f:
                    f.write("%d\n" % self.counter)
                os.replace(tmp, self._file)  # kept before it is used: never goes back
            except OSError as e:
                raise GroundError("cannot save the signing counter to %s: %s" % (self._file, e))
            return sign(packet, self.kid, self._key, self.counter)


def default_signer(state_dir):
    """The Signer ``$PAYLOAD_KEYS`` and ``$PAYLOAD_KEY_ID`` configure (counter in ``state_dir``), or None."""
    path = os.environ.get("PAYLOAD_KEYS")
    if not path:
        return None
    kid = os.environ.get("PAYLOAD_KEY_ID")
    if kid is not None and not kid.isdigit():
        raise UsageError("PAYLOAD_KEY_ID must be a key id, got %r" % kid)
    return Signer(path, os.path.join(state_dir, "tc_counter"), None if kid is None else int(kid))
