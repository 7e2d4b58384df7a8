"""The client protocol between the ground server and its clients, version 1.

A connection to ``ground://HOST:PORT`` is a TCP stream of messages, each one JSON object
on one line (UTF-8, ending in a newline; a client's lines at most ``MAX_LINE`` bytes).
The client speaks first (``hello``); the server answers ``welcome``, then the snapshot
(``status``, the latest HK, recent events, commands in flight, approvals waiting as ``tm``,
``command`` and ``approval`` messages), then ``ready``, then the live stream. A request
carries an ``id`` that its ``reply`` repeats. A client with another protocol version, or
that sends anything else than these messages, gets one ``error`` and is disconnected.

client -> server
  ====================  ==========================================================  ===================
  type                  fields                                                      answer
  ====================  ==========================================================  ===================
  hello                 protocol (1), name (who the operator or tool is)             welcome ... ready
  command               id, words (["FIRE", 2] as typed), confirm, timeout, retries reply: ref, held
  take                  id, force (take it from its holder), token                  reply
  release               id                                                          reply
  approve               id, approval (its number), token                            reply
  query                 id, since, until, session (archive rows; None: any)          row ..., reply: rows
  sessions              id                                                          reply: sessions
  ====================  ==========================================================  ===================

server -> client
  ========  ============================================================================
  welcome   protocol, server (software version), client (this client's name), link
            (the payload link's URL), session, two_person, token (true: command
            authority needs one)
  status    link (UP, DOWN), counters (the link's), dropped (messages this client lost),
            authority (the holder's name or null), clients (names)
  tm        t (ground time), raw (the packet, hex), rec (the decoded record: fields of
            ``codec.Record`` plus its ``to_json``: text, violations, obt)
  command   ref (the server's number for it), owner, approver, held (approval number
            while waiting for the second person), tc (name, args, packet, hazardous),
            status, reason, attempts, already_executed, resequenced, sent_at, timeout,
            retries, stage (the new verification stage, or null)
  approval  approval, owner, command, text (what it will do), answer (what confirms it),
            state (WAITING, APPROVED, REJECTED, EXPIRED, CANCELLED), by
  notice    text (authority changes, link changes: one line for every client's log)
  ready     the snapshot is complete
  row       id, session, t, direction (TM, TC, LOG), raw, client, approver, kind, text
  reply     id, ok; error and kind (authority, usage, link, failed) when not ok
  error     message; the server closes the connection after it
  ========  ============================================================================

Only ``tm`` and ``status`` may be dropped for a client that does not keep up (counted in
its ``dropped``); everything else arrives, or the client is disconnected.
"""

import dataclasses
import json
import urllib.parse

from firmware import dictionary as d
from ground import codec
from ground.errors import AuthorityError, GroundError, LinkError, UsageError

VERSION = 1
SCHEME = "ground://"
DEFAULT_PORT = 7010
MAX_LINE = 64 * 1024  # bytes in one client message; a longer line is garbage
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(codec.Record) if f.name not in ("layout", "position", "raw"))
_ERRORS = {"authority": AuthorityError, "usage": UsageError, "link": LinkError}  # a subclass before its base


class ProtocolError(GroundError):
    """A message that is not protocol v1."""


def is_server_url(url):
    return str(url).startswith(SCHEME)


def parse_url(url):
    """(host, port) of ``ground://HOST:PORT``; UsageError naming the problem."""
    parts = urllib.parse.urlsplit(str(url))
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != SCHEME[:-3] or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise UsageError("not a ground server URL: %r (ground://HOST:PORT)" % url)
    return parts.hostname, port or DEFAULT_PORT


def encode(msg):
    """One message as the bytes of its line."""
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


def decode(line):
    """The message of one line; ProtocolError if it is not a JSON object with a type."""
    try:
        msg = json.loads(line)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError("not a JSON message: %s" % e)
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("a message is a JSON object with a \"type\"")
    return msg


def error(reply):
    """The GroundError a failed ``reply`` stands for."""
    return _ERRORS.get(reply.get("kind"), GroundError)(reply.get("error") or "the server refused the request")


def error_kind(e):
    """The ``kind`` of a GroundError in a reply."""
    return next((k for k, cls in _ERRORS.items() if isinstance(e, cls)), "failed")


# --- records and telecommands ----------------------------------------------------


def record_doc(rec):
    """A decoded record as the ``rec`` of a ``tm`` message: every field, and the text every tool shows."""
    doc = rec.to_json()
    doc.update((name, getattr(rec, name)) for name in _RECORD_FIELDS)
    return doc


def record_from_doc(doc, raw=b""):
    """The ``codec.Record`` of a ``rec`` (no second decode of the packet: the server's is the one)."""
    rec = codec.Record(**{name: doc[name] for name in _RECORD_FIELDS if name in doc})
    rec.raw = raw
    rec.layout = codec.layout(rec.service, rec.subtype, rec.event)
    return rec


def tc_doc(tc):
    """A Telecommand as the ``tc`` of a ``command`` message."""
    args = [tc_doc(a) if isinstance(a, codec.Telecommand) else a for a in tc.args]
    return {"name": tc.name, "args": args, "packet": tc.packet.hex(), "hazardous": tc.hazardous}


def tc_from_doc(doc):
    args = tuple(tc_from_doc(a) if isinstance(a, dict) else a for a in doc["args"])
    return codec.Telecommand(doc["name"], args, bytes.fromhex(doc["packet"]), doc["hazardous"])


def words(tc):
    """The command as typed, word by word (a slot list as a list): ``codec.build`` takes them
    back, so the server builds the command itself under its own sequence counts."""
    out = [tc.name]
    for f, value in zip(tc.entry.args, tc.args, strict=False):
        if isinstance(value, codec.Telecommand):
            out += words(value)
        elif f.names is not None and f.names.kind == d.BITS:
            out.append([n for i, n in enumerate(f.names.names) if value >> i & 1])
        elif f.names is not None:
            out.append(f.names.text(value))
        else:
            out.append(value)
    return out
