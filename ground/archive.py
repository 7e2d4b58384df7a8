"""The archive: everything the ground received, sent and decided, with its ground time, in SQLite.

One schema for every writer (the ground server, or a console or ``record`` alone on a link)::

    sessions(id INTEGER PRIMARY KEY,
             start REAL, end REAL,       -- ground times, s since the Unix epoch; end NULL: cut short
             link TEXT, version TEXT)    -- the link's URL, the software that wrote the session
    frames(id INTEGER PRIMARY KEY, session INTEGER, t REAL,  -- t: ground time of arrival or sending
           direction TEXT,               -- TM (passed the CRC) or TC (as sent: one row per attempt)
           packet BLOB,                  -- the CCSDS packet, CRC included
           client TEXT, approver TEXT)   -- TC: the client that sent it, the second person (two-person rule)
    log(id INTEGER PRIMARY KEY, session INTEGER, t REAL,
        kind TEXT,                       -- LINK, CLIENT, AUTHORITY, APPROVAL, COMMAND, PROCEDURE
                                         -- (see LOG_KINDS; PROCEDURE: an entry of a procedure run,
                                         -- ground/runner.py's JSON, from the client that flew it)
        client TEXT, text TEXT)          -- who, and what happened in words

An archive written before sessions existed gains the columns and tables on first open;
its rows have no session.

Rows go through one writer thread, in transactions committed at most ``COMMIT_WINDOW``
after they were stored (plus the time of a commit already under way). A process killed
at any moment loses at most the rows of that window and never leaves a torn row: the
WAL journal rolls back an unfinished transaction on the next open, and
``synchronous=FULL`` makes a commit survive a power cut as well.
Replay reads rows back and decodes them with the same ``codec.decode`` as the live link.
"""

import sqlite3
import threading
import time
from typing import NamedTuple

from ground import software_version
from ground.errors import GroundError, UsageError

COMMIT_WINDOW = 0.1  # s: the most a stored row waits for its commit
LOG_KINDS = ("LINK", "CLIENT", "AUTHORITY", "APPROVAL", "COMMAND", "PROCEDURE")
CLIENT_KINDS = ("PROCEDURE",)  # what a client may log through the server; the other kinds are the server's own
_BUSY_TIMEOUT = 5.0  # s: another process writing the same file
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, start REAL NOT NULL, end REAL, "
    "link TEXT NOT NULL, version TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY, session INTEGER, t REAL NOT NULL, "
    "direction TEXT NOT NULL, packet BLOB NOT NULL, client TEXT, approver TEXT)",
    "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, session INTEGER, t REAL NOT NULL, "
    "kind TEXT NOT NULL, client TEXT, text TEXT NOT NULL)",
)
_FRAME_COLUMNS = (("session", "INTEGER"), ("client", "TEXT"), ("approver", "TEXT"))  # missing in the first schema
_INDEXES = ("CREATE INDEX IF NOT EXISTS frames_t ON frames (t)", "CREATE INDEX IF NOT EXISTS log_t ON log (t)")
_INSERT_FRAME = "INSERT INTO frames (session, t, direction, packet, client, approver) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_LOG = "INSERT INTO log (session, t, kind, client, text) VALUES (?, ?, ?, ?, ?)"


class Row(NamedTuple):
    """One archived row, as replay reads it: a frame (``direction`` TM or TC) or a log line."""

    session: int | None
    t: float
    direction: str  # TM, TC, or LOG
    packet: bytes | None = None
    client: str | None = None
    approver: str | None = None  # a TC's second person
    kind: str | None = None  # a LOG row's kind
    text: str | None = None


class Session(NamedTuple):
    id: int
    start: float
    end: float | None
    link: str
    version: str


def _connect(path):
    db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _migrate(db):
    with db:
        for sql in _SCHEMA:
            db.execute(sql)
        have = {row[1] for row in db.execute("PRAGMA table_info(frames)")}
        for name, kind in _FRAME_COLUMNS:
            if name not in have:
                db.execute("ALTER TABLE frames ADD COLUMN %s %s" % (name, kind))
        for sql in _INDEXES:
            db.execute(sql)


class Archive:
    """An open archive file; ``store`` and ``log`` are safe from any thread and never block on the disk."""

    def __init__(self, path, create=True):
        self.path = path
        self.session = None  # id of the session rows are stored under
        self.errors = 0  # rows lost to a failing disk (counted, never raised into the link)
        self.last_error = ""
        try:
            if not create:
                with open(path, "rb"):
                    pass
            self._db = _connect(path)
            _migrate(self._db)
        except (OSError, sqlite3.Error) as e:
            raise GroundError("archive %s: %s" % (path, e))
        self._db_lock = threading.Lock()  # the writer thread's connection, also used to open sessions
        self._cond = threading.Condition()
        self._pending = []  # (sql, args) waiting for the writer
        self._first_at = 0.0  # monotonic time the oldest pending row was stored
        self._stored = self._committed = 0  # rows handed over, rows done (committed or lost)
        self._hurry = False  # a flush wants the pending rows now
        self._closed = False
        self._writer = threading.Thread(target=self._write, name="ground-archive", daemon=True)
        self._writer.start()

    # --- sessions ---------------------------------------------------------------------

    def start_session(self, link, t=None):
        """Open a session for ``link`` (its URL); later rows belong to it. Returns its id (None if the disk fails)."""
        self.session = self._now("INSERT INTO sessions (start, link, version) VALUES (?, ?, ?)",
                                 (time.time() if t is None else t, link, software_version()))
        return self.session

    def end_session(self, t=None):
        """Close the current session (after its rows are committed)."""
        if self.session is None or self._closed:
            return
        self.flush()
        self._now("UPDATE sessions SET end = ? WHERE id = ?", (time.time() if t is None else t, self.session))
        self.session = None

    def _now(self, sql, args):
        """One statement committed at once; its row id (a failing disk is counted, as for any row)."""
        try:
            with self._db_lock, self._db:
                return self._db.execute(sql, args).lastrowid
        except sqlite3.Error as e:
            with self._cond:
                self.errors += 1
                self.last_error = str(e)
            return None

    # --- writing ----------------------------------------------------------------------

    def store(self, raw, t, direction="TM", client=None, approver=None):
        """Append one packet (TM as received, TC as sent), by ``client`` with ``approver`` for a TC."""
        self._put(_INSERT_FRAME, (self.session, t, direction, bytes(raw), client, approver))

    def log(self, t, kind, text, client=None):
        """Append a line of what the ground did or saw: ``kind`` is one of LOG_KINDS."""
        self._put(_INSERT_LOG, (self.session, t, kind, client, text))

    def _put(self, sql, args):
        with self._cond:
            if self._closed:
                self.errors += 1
                self.last_error = "archive %s is closed" % self.path
                return
            if not self._pending:  # the writer sleeps until a first row; then it gathers until the window ends
                self._first_at = time.monotonic()
                self._cond.notify_all()
            self._pending.append((sql, args))
            self._stored += 1

    def flush(self):
        """Return once every row stored so far is committed (or counted as lost)."""
        with self._cond:
            target = self._stored
            self._hurry = True
            self._cond.notify_all()
            while self._committed < target and self._writer.is_alive():
                self._cond.wait(1.0)

    def _write(self):
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                while not (self._hurry or self._closed):  # gather rows for up to the window
                    left = self._first_at + COMMIT_WINDOW - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                rows, self._pending, self._hurry = self._pending, [], False
            error = self._commit(rows)
            with self._cond:
                if error:
                    self.errors += len(rows)
                    self.last_error = error
                self._committed += len(rows)
                self._cond.notify_all()

    def _commit(self, rows):
        """Write ``rows`` in one transaction; the error in words, or None."""
        try:
            with self._db_lock, self._db:
                for sql, args in rows:
                    self._db.execute(sql, args)
        except sqlite3.Error as e:
            return str(e)
        return None

    def close(self):
        """End the session, commit what is pending, and close the file."""
        self.end_session()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join()
        with self._db_lock:
            self._db.close()

    # --- reading ----------------------------------------------------------------------

    def _read(self, sql, args=()):
        self.flush()
        try:
            db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT)
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()
        except sqlite3.Error as e:
            raise GroundError("archive %s: %s" % (self.path, e))

    def frames(self, direction=None):
        """(ground time, direction, packet) for every frame, in ground-time order (a TC is stored
        once written, so its replies may be stored first: its time is when it was sent)."""
        where, args = ("WHERE direction = ?", (direction,)) if direction else ("", ())
        rows = self._read("SELECT t, direction, packet FROM frames %s ORDER BY t, id" % where, args)
        return [(t, d, bytes(p)) for t, d, p in rows]

    def sessions(self):
        """Every session, oldest first."""
        return [Session(*row) for row in self._read("SELECT id, start, end, link, version FROM sessions ORDER BY id")]

    def rows(self, since=None, until=None, session=None, kind=None):
        """Frames and log lines with ground time in [since, until) (None: unbounded) and of
        ``session`` (None: any), in ground-time order; ``kind`` (one of LOG_KINDS): its log lines only."""
        where, args = [], []
        for cond, value in (("t >= ?", since), ("t < ?", until), ("session = ?", session)):
            if value is not None:
                where.append(cond)
                args.append(value)
        frames = ("SELECT session, t, direction, packet, client, approver, NULL, NULL, 0 AS src, id FROM frames%s "
                  "UNION ALL " % _where(where))
        if kind is not None:
            frames, where, args = "", where + ["kind = ?"], args + [kind]
        sql = ("%sSELECT session, t, 'LOG', NULL, client, NULL, kind, text, 1 AS src, id FROM log%s "
               "ORDER BY t, src, id" % (frames, _where(where)))
        return [Row(s, t, d, bytes(p) if p is not None else None, c, a, k, x)
                for s, t, d, p, c, a, k, x, _src, _id in self._read(sql, args * 2 if frames else args)]


def _where(conditions):
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def open_existing(path):
    """An archive that must already exist (replay, plot): UsageError if it does not."""
    try:
        return Archive(path, create=False)
    except GroundError as e:
        raise UsageError(str(e))
