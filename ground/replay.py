"""Replay: archived rows shown as the operator saw them, each with its ground time.

``ground replay`` renders rows from a file or from a server's archive (ground/archive.py's
``Row``) through the same decoder as the live link. Every line starts with the row's
ground time (UTC); each session opens with a header line (its start and end, link URL
and software); a telemetry packet whose on-board time went back (a reset) or ran ahead
of ground time (time set) is preceded by a marker line, so that neither passes unseen::

    === session 3: 2026-06-13T10:00:00.000Z .. 2026-06-13T10:05:12.500Z, socket://127.0.0.1:5555, git 1a2b3c4
    2026-06-13T10:00:01.234Z T+12.345s HK sid=1 state=SAFE ...
    2026-06-13T10:00:01.300Z TC FIRE 2 [0x18C10005] by #1 console alice@desk, approved by #2 bob@desk
    2026-06-13T10:00:02.000Z AUTHORITY command authority taken by #1 console alice@desk
    --- on-board time went back 734.120 s (T+740.000s to T+5.880s): the payload reset
"""

import datetime
import json

from firmware import dictionary as d
from ground import codec
from ground.archive import LOG_KINDS
from ground.errors import UsageError

JUMP_SLACK = 2.0  # s: on-board time may run ahead of ground time by this much before a marker
_DAY_MS = 86400000
_KINDS = ("TC", "TM", "EVENT") + LOG_KINDS
_NAMES = tuple(t.name for t in d.TELEMETRY) + tuple(e.name for e in d.EVENTS)


def parse_types(text):
    """``--type HK,EVENT,TC``: the set of row types to show (None: every row)."""
    if not text:
        return None
    types = {t.strip().upper() for t in text.split(",") if t.strip()}
    unknown = sorted(types - set(_KINDS + _NAMES))
    if unknown:
        raise UsageError("--type: unknown %s (one or more of %s, or a telemetry or event name: see ground dictionary)"
                         % (", ".join(unknown), "|".join(_KINDS)))
    return types


def parse_time(text, option):
    """A ground time given as ISO 8601 (UTC unless it says otherwise), as s since the Unix epoch."""
    if text is None:
        return None
    try:
        t = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError("%s: %r is not a time like 2026-06-13T10:00:00Z or 2026-06-13" % (option, text))
    return (t if t.tzinfo else t.replace(tzinfo=datetime.UTC)).timestamp()


def ground_text(t):
    """A ground time as replay shows it: ``2026-06-13T10:00:01.234Z``."""
    if t is None:
        return "-"
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _by(row):
    who = " by %s" % row.client if row.client else ""
    return who + (", approved by %s" % row.approver if row.approver else "")


class Replay:
    """Turns rows into lines (text or JSON), keeping what the markers need per session."""

    def __init__(self, types=None, as_json=False):
        self.types = types
        self.as_json = as_json
        self._last = None  # (on-board ms, ground time) of the session's previous telemetry

    def lines(self, rows, sessions=()):
        """The lines for ``rows`` (in ground-time order); ``sessions`` (archive.Session) give the headers."""
        headers = {s.id: s for s in sessions}
        shown = object()
        session = shown
        for row in rows:
            if row.session != session:
                session, self._last = row.session, None
                yield self._header(session, headers.get(session))
            yield from self._row(row)

    def _header(self, number, s):
        if self.as_json:
            return json.dumps({"session": number} | (s._asdict() if s else {}))
        if s is None:
            return "=== %s" % ("session %s" % number if number is not None else "before sessions were recorded")
        end = ground_text(s.end) if s.end is not None else "cut short"
        return "=== session %d: %s .. %s, %s, %s" % (s.id, ground_text(s.start), end, s.link, s.version)

    def _wanted(self, *types):
        return self.types is None or any(t in self.types for t in types if t)

    def _row(self, row):
        if row.direction == "TM":
            rec = codec.decode(row.packet, row.t)
            if rec is None:
                return
            marker = None if rec.foreign or rec.time_error else self._jump(rec, row.t)  # the payload's clock only
            if self._wanted("TM", rec.name, rec.event, "EVENT" if rec.event else None):
                if marker:
                    yield json.dumps({"obt_jump": marker}) if self.as_json else "--- " + marker
                yield json.dumps(rec.to_json()) if self.as_json else "%s %s" % (ground_text(row.t), rec)
        elif row.direction == "TC" and self._wanted("TC"):
            text, rid = codec.describe_tc(row.packet), int.from_bytes(row.packet[:4], "big")
            if self.as_json:
                yield json.dumps({"tc": text, "request_id": rid, "ground_time": row.t, "client": row.client,
                                  "approver": row.approver})
            else:
                yield "%s TC %s [0x%08X]%s" % (ground_text(row.t), text, rid, _by(row))
        elif row.direction == "LOG" and self._wanted(row.kind):
            if self.as_json:
                yield json.dumps({"log": row.kind, "text": row.text, "ground_time": row.t, "client": row.client})
            else:
                yield "%s %s %s" % (ground_text(row.t), row.kind, row.text)

    def _jump(self, rec, t):
        """A marker if on-board time went back, or ahead of ground time, since the last packet; else None."""
        obt = rec.days * _DAY_MS + rec.ms
        last, self._last = self._last, (obt, t)
        if last is None:
            return None
        back = (last[0] - obt) / 1000
        ahead = (obt - last[0]) / 1000 - (t - last[1])
        if back > 0:
            return "on-board time went back %.3f s (%s to %s): the payload reset, or its time was set back" % (
                back, codec.format_obt(*divmod(last[0], _DAY_MS)), rec.obt)
        if ahead > JUMP_SLACK:
            return "on-board time jumped %.3f s ahead of ground time (%s to %s): its time was set" % (
                ahead, codec.format_obt(*divmod(last[0], _DAY_MS)), rec.obt)
        return None
