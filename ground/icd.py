"""The interface control document, generated from the dictionary.

``python -m ground.icd`` prints docs/ICD.md (``make icd`` writes it; ``make
icd-check`` fails when it is stale). ``ground dictionary`` prints the same
command and telemetry tables as aligned text.
"""

from firmware import auth, framing, packet, verification
from firmware import dictionary as d
from ground import codec


def _range(f):
    if f.lo is None and f.hi is None:
        return ""
    return "%s..%s" % ("" if f.lo is None else f.lo, "" if f.hi is None else f.hi)


def _type(f):
    return {"tc": "telecommand", "*": "repeated"}.get(f.code, f.code)


def command_rows():
    """(name, service, subtype, function id, hazardous, usage, description) per command."""
    return [(c.name, c.service, c.subtype, c.function or "", "yes" if c.hazardous else "", codec.usage(c),
             c.description) for c in d.COMMANDS]


def telemetry_rows():
    """(name, service, subtype, description, fields) per TM packet."""
    return [(t.name, t.service, t.subtype, t.description, " ".join(f.name for f in t.fields)) for t in d.TELEMETRY]


def field_rows(fields):
    """(name, type, unit, range, names, description) per field: the struct code is the wire type."""
    return [(f.name, _type(f), f.unit, _range(f), f.names.title if f.names else "", f.description) for f in fields]


def parameter_rows():
    """(id, name, unit, range, default, description) per on-board parameter."""
    return [(p.id, p.name, p.unit, "%d..%d" % (p.lo, p.hi), p.default, p.description) for p in d.PARAMETERS]


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers, rows):
    rows = [tuple(str(c) for c in r) for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


COMMAND_HEADERS = ("command", "svc", "sub", "fid", "hazardous", "usage", "description")
TELEMETRY_HEADERS = ("telemetry", "svc", "sub", "description", "fields")
EVENT_HEADERS = ("id", "event", "severity", "description", "fields")
PARAMETER_HEADERS = ("id", "parameter", "unit", "range", "default", "description")
FIELD_HEADERS = ("field", "type", "unit", "range", "names", "description")


def event_rows():
    return [(e.id, e.name, d.SEVERITIES[e.severity - 1], e.description, " ".join(f.name for f in e.fields))
            for e in d.EVENTS]


def dictionary_text():
    """What ``ground dictionary`` prints."""
    return "\n\n".join((text_table(COMMAND_HEADERS, command_rows()),
                        text_table(PARAMETER_HEADERS, parameter_rows()),
                        text_table(TELEMETRY_HEADERS, telemetry_rows()),
                        text_table(EVENT_HEADERS, event_rows())))


def _section(title, body):
    return "## %s\n\n%s\n" % (title, body)


def _wire_format():
    return "\n".join(("Struct codes are Python `struct` codes, big-endian: B u8, H u16, h i16, I u32.",
                      "APID 0x%03X, ground id %d. Packets (firmware/packet.py):" % (d.APID, d.GROUND_ID),
                      "", "```", packet.__doc__.strip(), "```", "", "Framing (firmware/framing.py):",
                      "", "```", framing.__doc__.strip(), "```"))


def _with_layouts(intro, headers, rows, layouts, note=""):
    """A summary table, then one field table per ``(title, fields)`` that has fields."""
    parts = [intro] if intro else []
    parts.append(markdown_table(headers, rows))
    parts += ["### %s\n\n%s" % (title, markdown_table(FIELD_HEADERS, field_rows(fields)))
              for title, fields in layouts if fields]
    return "\n\n".join(parts + ([note] if note else []))


def _commands():
    return _with_layouts("", COMMAND_HEADERS, command_rows(), [(c.name + " arguments", c.args) for c in d.COMMANDS],
                         "A PUS 8 command's application data starts with its function id (u16). A slot list "
                         "is typed as slot numbers in ascending order, comma-separated (`1,2`); on the wire it "
                         "is a bitmask (SLOT_SET).")


def _telemetry():
    return _with_layouts("", TELEMETRY_HEADERS, telemetry_rows(), [(t.name, t.fields) for t in d.TELEMETRY],
                         "A `repeated` field: the fields after it repeat, one record each, to the end of the data.")


def _events():
    return _with_layouts("Event reports (PUS 5, subtype = severity) carry the event id (u16), then its fields.",
                         EVENT_HEADERS, event_rows(), [(e.name, e.fields) for e in d.EVENTS])


def names_line(n):
    """One names table in words: how its values read."""
    if n.kind == d.BITS:
        return "one bit each: " + ", ".join("bit %d = %s" % iv for iv in enumerate(n.names))
    if n.kind == d.COUNTS:
        return "a 4-bit count each: " + ", ".join("bits %d-%d = %s" % (4 * i, 4 * i + 3, name)
                                                   for i, name in enumerate(n.names))
    if n.kind == d.COMMAND:
        return "with the record's service, the command(s) of that service and subtype"
    return ", ".join("%d %s" % vn for vn in ((0, n.zero),) * bool(n.zero) + n.pairs())


def _exactly_once():
    """The rule as firmware/verification.py states it, and the persisted commands by name."""
    rule = next(p for p in verification.__doc__.split("\n\n") if p.startswith("Exactly once."))
    names = ", ".join(c.name for c in d.COMMANDS if d.persisted(c))
    return " ".join(rule.split()[2:]) + "\n\nPersisted commands: " + names + "."


def _enumerations():
    return "\n\n".join("%s (%s): %s" % (n.title, n.kind, names_line(n)) for n in d.NAME_TABLES)


_BURN_RULE = """A burn (the first or a retry) starts only on a settled switch: the slot's separation switch
reads stowed, debounced and raw alike, and its last burn (or the boot) was at least
SWITCH_SETTLE_MS = %d ms ago, the longest the deployer's switch chatters after a release. So for
every combination of parameter values, no current flows in a slot whose satellite has left while
its switch works: a retry waits COOLDOWN, then until the switch settles (a satellite that left
during the burn is confirmed RELEASED by DEBOUNCE instead); FIRE or FIRE_SEQUENCE naming a slot
whose switch has not settled is refused SWITCH_SETTLING, and a sequence reaching such a slot
waits for it. The rule is drawn in the sequencer's state table (firmware/sequencer.py)."""


def document():
    return "\n".join((
        "# Interface control document\n",
        "Generated by `python -m ground.icd` from firmware/dictionary.py; do not edit (run `make icd`).\n",
        _section("Wire format", _wire_format()),
        _section("Telecommands", _commands()),
        _section("Telemetry", _telemetry()),
        _section("Events", _events()),
        _section("Exactly once", _exactly_once()),
        _section("Authentication", "Keys: N_KEYS = %d, MAC_LEN = %d, TRAILER_LEN = %d, KEY_LEASE = %d "
                 "(firmware/auth.py):\n\n```\n%s\n```" % (d.N_KEYS, d.MAC_LEN, d.TRAILER_LEN, d.KEY_LEASE,
                                                         auth.__doc__.strip())),
        _section("Failure codes", markdown_table(("code", "name", "meaning"),
                                                 [(f.code, f.name, f.description) for f in d.FAILURES])),
        _section("Parameters", markdown_table(PARAMETER_HEADERS, parameter_rows()) + "\n\n"
                 + _BURN_RULE % d.SWITCH_SETTLE_MS),
        _section("Names", "Every field with names is shown by them in every ground tool; a value no name "
                          "covers shows as `?N`.\n\n" + _enumerations()),
    ))


if __name__ == "__main__":
    print(document(), end="")
