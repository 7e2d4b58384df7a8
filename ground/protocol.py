"""The client protocol between the ground server and its clients, version 1.

A TCP stream of messages, each one JSON object on one line. The messages, their fields and
the rules (hello first, the snapshot, replies after what their request caused, which
messages may be dropped for a slow client) are drawn once, in docs/GROUND.md ("Client
protocol"); this module encodes and decodes them, and turns records and telecommands into
their JSON and back, so that a Python client never decodes a packet a second time.
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
    """A Telecommand as the ``tc`` of a ``command`` message (``text``: as typed, for clients without the codec)."""
    args = [tc_doc(a) if isinstance(a, codec.Telecommand) else a for a in tc.args]
    return {"name": tc.name, "args": args, "text": str(tc), "packet": tc.packet.hex(), "hazardous": tc.hazardous}


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
