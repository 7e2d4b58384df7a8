"""``ground``: the command-line tools and the console, one subcommand each.

A command table (name -> handler, arguments) in the mpremote manner; every
operator mistake is a ``GroundError`` caught once in ``main``, printed as
``ground: message`` on stderr, with the exit code of its kind (ground/errors.py).
Output goes through ``_out``: whole lines, one thread at a time (verification
stages arrive on the link thread), and a reader that went away (``| head``)
ends the output quietly instead of a BrokenPipeError.
"""

import argparse
import json
import os
import queue
import sys
import threading
import time

try:
    from ground import codec, errors, hazard, icd
    from ground.archive import Archive, open_existing
    from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client, counters_text, default_seq_file
    from ground.errors import GroundError, UsageError
    from ground.link import CLOSED, DOWN
    from ground.plot import DEFAULT_FIELDS
except ImportError as e:  # a Python without the project's packages (outside .venv)
    print("ground: %s: run it from the project's venv (make venv; then . .venv/bin/activate)" % e, file=sys.stderr)
    sys.exit(2)

_MEANING = {
    errors.OK: "success",
    errors.FAILED: "the command failed or was refused by the payload (the reason is printed)",
    errors.USAGE: "usage: wrong arguments, unknown command, hazardous command without --yes, bad URL or file",
    errors.LINK: "link: the port cannot be opened, another tool has it, or it dropped for good",
    errors.TIMEOUT: "verification timeout: no report in time, the command's outcome is unknown",
    errors.LOCAL: "local: a file cannot be written, or the tool itself failed (the console crashed)",
}
_URL_HELP = "URL: any pyserial URL: /dev/ttyACM0, socket://host:port, rfc2217://host:port, loop://"
DEFAULT_DB = "ground-archive.sqlite"
_lock = threading.Lock()
_gone = threading.Event()  # stdout's reader went away


def _epilog(codes):
    return "exit codes:\n" + "\n".join("  %d  %s" % (c, _MEANING[c]) for c in codes)


def _out(line, err=False):
    """Write one whole line (see the module doc)."""
    stream = sys.stderr if err else sys.stdout
    with _lock:
        if _gone.is_set() and not err:
            return
        try:
            stream.write(line + "\n")
            stream.flush()
        except BrokenPipeError:
            _gone.set()
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # nothing more reaches it, not even at exit


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s (see: %s --help)" % (message, self.prog))


def _client(a, **kw):
    timing = {"timeout": a.timeout, "retries": a.retries} if "timeout" in a else {}
    return Client(a.url, baudrate=a.baud, seq_file=default_seq_file(), **timing, **kw)


def cmd_send(a):
    tc = codec.build(a.command, a.args, lambda: 0)  # a usage mistake is said before any port opens
    confirm = hazard.confirmation(tc)
    if confirm is not None and not a.yes:
        raise UsageError("%s (hazardous: add --yes to send it)" % confirm.text)
    if confirm is not None:
        _out("HAZARDOUS %s" % confirm.text)
    sent = threading.Event()

    def show_stage(v, stage):
        _out("%8.3fs %s" % (stage.t - v.sent_at, stage))

    def show_report(rec):  # what the command caused: PONG, PARAM, SCHEDULE, events
        if sent.is_set() and rec.service != 1 and rec.name != "HK":
            _out("          %s" % rec)

    with _client(a, on_stage=show_stage, on_record=show_report) as c:
        sent.set()
        v = c.send(a.command, *a.args, confirm=a.yes)
        _out(str(v))


def _watch(a, archive, show):
    """Receive until --count records, --duration seconds or Ctrl-C; then every counter on stderr."""
    records = queue.Queue()
    opened = []  # the link, once open (its first UP comes while it opens)

    def states(state):  # on stderr: stdout carries telemetry only
        why = opened[0].down_reason if opened and state == DOWN else ""
        if state != CLOSED:
            _out("link: %s%s" % (state, " (%s)" % why if why else ""), err=True)

    n = 0
    end = time.monotonic() + a.duration if a.duration else None
    with _client(a, archive=archive, on_record=records.put, on_state=states) as client:
        opened.append(client.link)
        try:
            while not (a.count and n >= a.count) and not _gone.is_set():
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                try:
                    rec = records.get(timeout=left)
                except queue.Empty:
                    break
                n += 1
                show(rec)
        except KeyboardInterrupt:
            pass
        _out("link: %s" % counters_text(client.counters()), err=True)
    return n


def _show(a):
    if a.json:
        return lambda rec: _out(json.dumps(rec.to_json()))
    return lambda rec: _out(str(rec))


def cmd_monitor(a):
    archive = Archive(a.db) if a.db else None
    try:
        _watch(a, archive, _show(a))
    finally:
        if archive:
            archive.close()


def cmd_record(a):
    archive = Archive(a.db)
    try:
        n = _watch(a, archive, lambda rec: None)
    finally:
        archive.close()
    _out("recorded %d packets to %s" % (n, a.db))


def cmd_replay(a):
    archive = open_existing(a.file)
    try:
        frames = archive.frames()
    finally:
        archive.close()
    show = _show(a)
    for _t, direction, raw in frames:
        if _gone.is_set():
            break
        if direction == "TC":
            text, rid = codec.describe_tc(raw), int.from_bytes(raw[:4], "big")
            _out(json.dumps({"tc": text, "request_id": rid}) if a.json else "TC %s [0x%08X]" % (text, rid))
        else:
            rec = codec.decode(raw)
            if rec is not None:
                show(rec)


def cmd_plot(a):
    from ground.plot import plot  # matplotlib loads only here

    n = plot(a.file, a.out, tuple(a.fields.split(",")) if a.fields else DEFAULT_FIELDS)
    _out("plotted %d housekeeping reports to %s" % (n, a.out))


def cmd_dictionary(a):
    _out(icd.dictionary_text())


def cmd_console(a):
    from ground.console import run

    run(a.url, db=None if a.no_record else a.db, baudrate=a.baud, timeout=a.timeout, retries=a.retries)


def _link_args(p):
    p.add_argument("url", help="pyserial URL of the payload link")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for serial devices (default 115200)")


def _command_args(p):
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds without a verification report before giving up (default %(default)s)")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help="resends, same request id, when nothing came back (default %(default)s)")


def _watch_args(p):
    p.add_argument("--count", type=int, help="stop after this many packets")
    p.add_argument("--duration", type=float, help="stop after this many seconds")


def _json_arg(p):
    p.add_argument("--json", action="store_true", help="one JSON object per line")


_ALL = tuple(_MEANING)
# name -> (handler, help, argument adders, exit codes it can return)
COMMANDS = {
    "send": (cmd_send, "send one telecommand and wait for its completion", (_link_args, _command_args),
             (0, 1, 2, 3, 4)),
    "monitor": (cmd_monitor, "print decoded telemetry and events; every link counter on stderr at the end",
                (_link_args, _watch_args, _json_arg), (0, 2, 3)),
    "record": (cmd_record, "archive every packet with its ground time into SQLite; counters on stderr at the end",
               (_link_args, _watch_args), (0, 2, 3)),
    "replay": (cmd_replay, "play an archive back through the decoder", (_json_arg,), (0, 2)),
    "plot": (cmd_plot, "draw housekeeping fields of an archive over time", (), (0, 2, 5)),
    "dictionary": (cmd_dictionary, "print the commands, telemetry and events of this build", (), (0,)),
    "console": (cmd_console, "the operator console (terminal UI)", (_link_args, _command_args), (0, 2, 3, 5)),
}


def _specific_args(name, p):
    if name == "send":
        p.add_argument("command", help="command name (see: ground dictionary)")
        p.add_argument("args", nargs="*", default=[], help="command arguments")
        p.add_argument("--yes", action="store_true", help="confirm a hazardous command (ARM, FIRE, ...)")
    elif name in ("monitor", "record"):
        p.add_argument("--db", required=name == "record", help="SQLite archive file")
    elif name in ("replay", "plot"):
        p.add_argument("file", help="SQLite archive file")
        if name == "plot":
            p.add_argument("--out", required=True, help="image file to write (.png, .svg, .pdf)")
            p.add_argument("--fields", help="comma-separated HK fields (default: %s)" % ",".join(
                DEFAULT_FIELDS))
    elif name == "console":
        p.add_argument("--db", default=DEFAULT_DB, help="archive file (default %(default)s)")
        p.add_argument("--no-record", action="store_true", help="do not archive")


def parser():
    top = _Parser(prog="ground", description="Ground tools for the payload deployment controller.",
                  epilog=_epilog(_ALL) + "\n" + _URL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for name, (handler, text, adders, codes) in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=text, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=_epilog(codes) + ("\n" + _URL_HELP if _link_args in adders else ""))
        for add in adders:
            add(p)
        _specific_args(name, p)
        p.set_defaults(handler=handler)
    return top


def main(argv=None):
    try:
        a = parser().parse_args(argv)
        a.handler(a)
    except GroundError as e:
        _out("ground: %s" % e, err=True)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
