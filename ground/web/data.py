"""What the web console's pages read besides the live stream, as JSON-ready documents.

- ``dictionary_doc``: the dictionary as the command form and the pages need it (arguments
  with ranges, units and names; housekeeping fields with scaled limits).
- ``check``: a command as typed in the form, built by the codec (the ranges and names of
  every tool) with the confirmation ground/hazard.py words for it, and whether the answer
  typed confirms it. The browser never judges a command or an answer itself.
- ``rows``: archive rows (ground/archive.py) decoded for the Archive page and its exports,
  filtered by ``--type`` as ``ground replay`` does and by command; ``csv_lines`` and
  ``json_lines`` write them out.
- ``hk_series``: housekeeping fields over ground time for the Plots page.
- ``procedures``, ``procedure_runs``, ``procedure_run``: the shipped procedures (checked) and
  the runs recorded in the archive (ground/runner.py reads them) for the Procedures page.
"""

import csv
import io
import json

from firmware import dictionary as d
from ground import codec, hazard, procedure, replay, runner
from ground.errors import UsageError
from ground.plot import DEFAULT_FIELDS, PLOTTABLE

ROW_COLUMNS = ("session", "time", "t", "type", "name", "text", "client", "approver", "severity", "request_id")
_HK = {f.name: f for f in d.HK_FIELDS}
_VERIFICATION_LOGS = ("COMMAND", "APPROVAL")  # log kinds that name a command by its request id


def _names(f):
    if f.names is None or f.names.kind == d.COUNTS:
        return None
    return list(f.names.names) if f.names.kind == d.BITS else [n for _v, n in f.names.pairs()]


def _arg(f):
    kind = "command" if f.code == "tc" else "number" if f.names is None else f.names.kind
    return {"name": f.name, "kind": kind, "unit": f.unit, "lo": f.lo, "hi": f.hi, "description": f.description,
            "names": _names(f)}


def _hk_field(f):
    factor, unit, decimals = codec.scaling(f)
    scaled = [None if x is None else x * factor for x in (f.lo, f.hi)]
    return {"name": f.name, "unit": unit, "factor": factor, "decimals": decimals, "lo": scaled[0], "hi": scaled[1],
            "description": f.description, "plottable": f.name in PLOTTABLE,
            "names": [list(p) for p in f.names.pairs()] if f.names is not None and f.names.kind == d.ENUM else None}


def dictionary_doc():
    return {
        "commands": [{"name": c.name, "description": c.description, "hazardous": c.hazardous,
                      "usage": codec.usage(c), "args": [_arg(f) for f in c.args]} for c in d.COMMANDS],
        "parameters": [p._asdict() for p in d.PARAMETERS],
        "hk": [_hk_field(f) for f in d.HK_FIELDS],
        "plot_fields": list(DEFAULT_FIELDS),
        "slots": d.N_SLOTS,
        "inputs": list(d.INPUT_BITS),
        "severities": list(d.SEVERITIES),
        "failures": {f.code: f.name for f in d.FAILURES},
    }


def check(doc):
    """``{"words": [...], "typed": ...}``: the command and its confirmation (``accepted`` when typed);
    ``{"answer": ..., "typed": ...}``: an approval's answer; ``{"error": ...}`` for a usage mistake."""
    typed = doc.get("typed")
    if "answer" in doc:
        return {"accepted": hazard.Confirmation("", str(doc["answer"])).accepts(typed)}
    words = doc.get("words")
    if not isinstance(words, list) or not words:
        return {"error": "choose a command"}
    try:
        tc = codec.build(words[0], words[1:], lambda: 0)
    except UsageError as e:
        return {"error": str(e)}
    confirm = hazard.confirmation(tc)
    out = {"command": str(tc), "hazardous": tc.hazardous,
           "confirmation": confirm and {"text": confirm.text, "answer": confirm.answer}}
    if typed is not None:
        out["accepted"] = confirm is None or confirm.accepts(typed)
    return out


def _row_doc(row, rec):
    doc = dict.fromkeys(ROW_COLUMNS)
    doc.update(session=row.session, t=row.t, time=replay.ground_text(row.t), type=row.direction, client=row.client,
               approver=row.approver)
    if row.direction == "TM":
        doc.update(type="EVENT" if rec.event else "TM", name=rec.event or rec.name, text=str(rec),
                   severity=rec.severity, request_id=rec.request_id, values=rec.values)
    elif row.direction == "TC":
        text = codec.describe_tc(row.packet)
        doc.update(name=text.split()[0], text=text, request_id=int.from_bytes(row.packet[:4], "big"))
    else:
        doc.update(type=row.kind, name=row.kind, text=row.text)
    return doc


def rows(archive_rows, types=None, command=None):
    """The documents of ``archive_rows`` (Archive.rows, in ground-time order) of ``types``
    (replay.parse_types) and, if ``command`` is a command's name, only the story of its
    commands: each TC of that name (or nesting it), its verification reports and log lines."""
    command = command.upper() if command else None
    if command is not None and d.command(command) is None:
        raise UsageError("unknown command %r (see: ground dictionary)" % command)
    ids = set()  # request ids of the matching commands
    out = []
    for row in archive_rows:
        rec = codec.decode(row.packet, row.t) if row.direction == "TM" else None
        if row.direction == "TM" and rec is None:
            continue
        doc = _row_doc(row, rec)
        if command is not None and not _of_command(row, rec, doc, command, ids):
            continue
        if replay.wanted(types, row, rec):
            out.append(doc)
    return out


def _of_command(row, rec, doc, command, ids):
    if row.direction == "TC":
        words = doc["text"].split()
        if command in [words[0]] + [w.lstrip("[") for w in words if w.startswith("[")]:  # SCHED_INSERT 1 2 [FIRE 2]
            ids.add(doc["request_id"])
            return True
        return False
    if row.direction == "TM":
        return rec.service == d.SVC_VERIFICATION and rec.request_id in ids
    return row.kind in _VERIFICATION_LOGS and any("[0x%08X]" % rid in (row.text or "") for rid in ids)


def csv_lines(docs):
    """The rows as CSV, header first (no raw values: the text has them by name)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, ROW_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for doc in docs:
        writer.writerow(doc)
    return out.getvalue()


def json_lines(docs):
    return "".join(json.dumps(doc) + "\n" for doc in docs)


def hk_series(archive_rows, max_points=5000):
    """Every plottable HK field over ground time, in engineering units (INVALID: None),
    at most ``max_points`` reports (evenly thinned)."""
    hk = [rec for rec in (codec.decode(r.packet, r.t) for r in archive_rows if r.direction == "TM")
          if rec is not None and rec.name == "HK" and not rec.error]
    hk = hk[::max(1, -(-len(hk) // max_points))]
    series = {}
    for name in PLOTTABLE:
        f = _HK[name]
        factor = codec.scaling(f)[0]
        series[name] = [None if r.values[name] == f.invalid else r.values[name] * factor for r in hk]
    return {"t": [r.ground_time for r in hk], "fields": series}


def procedures():
    """The shipped procedures as the Procedures page offers them: name, params, the checker's verdict."""
    out = []
    for name in procedure.shipped():
        path = procedure.find(name)
        out.append({"name": name, "usage": procedure.usage(path),
                    "mistakes": procedure.check(procedure.read(path), name)})
    return out


def procedure_runs(archive):
    """The runs recorded in ``archive``: the first entry of each (without the text flown), with how it ended."""
    return [{k: v for k, v in r.items() if k != "source"} for r in runner.runs(archive)]


def procedure_run(archive, run):
    """One run's entries, as ``ground proc replay`` prints them (UsageError if there is none such)."""
    first, entries = runner.replay(archive, run)
    return {"run": run, "procedure": first.get("procedure"),
            "entries": [{"t": e.t, "kind": e.kind, "line": e.line, "text": e.text} for e in entries]}
