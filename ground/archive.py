"""The archive: every packet over the link, with its ground time, in SQLite.

One table; a row per packet that passed the deframer's CRC (direction ``TM``)
and per telecommand sent (``TC``), in arrival order::

    frames(id INTEGER PRIMARY KEY, t REAL  -- ground time, s since the Unix epoch
           direction TEXT, packet BLOB)   -- the CCSDS packet, CRC included

Replay reads the rows back and decodes them with the same ``codec.decode`` as
the live link, so a replay shows exactly what the operator saw.
"""

import sqlite3
import threading

from ground.errors import GroundError, UsageError

_SCHEMA = "CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY, t REAL NOT NULL, " \
          "direction TEXT NOT NULL, packet BLOB NOT NULL)"


class Archive:
    """An open archive file; ``store`` is safe from any thread."""

    def __init__(self, path, create=True):
        self.path = path
        try:
            if not create:
                with open(path, "rb"):
                    pass
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise GroundError("archive %s: %s" % (path, e))
        self._lock = threading.Lock()
        self.errors = 0
        self.last_error = ""

    def store(self, raw, t, direction="TM"):
        """Append one packet; a failing disk is counted in ``errors``, never raised into the link."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO frames (t, direction, packet) VALUES (?, ?, ?)", (t, direction, raw))
            except sqlite3.Error as e:
                self.errors += 1
                self.last_error = str(e)

    def frames(self, direction=None):
        """(ground time, direction, packet) for every row, oldest first."""
        sql = "SELECT t, direction, packet FROM frames"
        args = ()
        if direction:
            sql += " WHERE direction = ?"
            args = (direction,)
        with self._lock:
            try:
                rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
            except sqlite3.Error as e:
                raise GroundError("archive %s: %s" % (self.path, e))
        return [(t, d, bytes(p)) for t, d, p in rows]

    def close(self):
        with self._lock:
            self._db.close()


def open_existing(path):
    """An archive that must already exist (replay, plot): GroundError if it does not."""
    try:
        return Archive(path, create=False)
    except GroundError as e:
        raise UsageError(str(e))
