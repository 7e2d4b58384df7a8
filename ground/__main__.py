"""``ground``: the command-line tools and the console, one subcommand each.

A command table (name -> handler, arguments) in the mpremote manner; every
operator mistake is a ``GroundError`` caught once in ``main``, printed as
``ground: message`` on stderr, with the exit code of its kind (see EPILOG).
"""

import argparse
import json
import queue
import sys
import threading
import time

from ground import codec, hazard, icd, xtce
from ground.archive import Archive, open_existing
from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client, default_seq_file
from ground.errors import GroundError, UsageError
from ground.link import CLOSED
from ground.plot import DEFAULT_FIELDS

EPILOG = """exit codes:
  0  success
  1  the command failed or was refused by the payload (the reason is printed)
  2  usage: wrong arguments, unknown command, hazardous command without --yes
  3  link: the port cannot be opened (or dropped for good)
  4  verification timeout: no report in time, the command's outcome is unknown
URL: any pyserial URL: /dev/ttyACM0, socket://host:port, rfc2217://host:port, loop://"""
DEFAULT_DB = "ground-archive.sqlite"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s (see: %s --help)" % (message, self.prog))


def _client(a, **kw):
    return Client(a.url, baudrate=a.baud, timeout=a.timeout, retries=a.retries, seq_file=default_seq_file(), **kw)


def _print_stage(v, stage):
    print("%8.3fs %s" % (stage.t - v.sent_at, stage), flush=True)


def cmd_send(a):
    tc = codec.build(a.command, a.args, lambda: 0)  # a usage mistake is said before any port opens
    confirm = hazard.confirmation(tc)
    if confirm is not None and not a.yes:
        raise UsageError("%s (hazardous: add --yes to send it)" % confirm.text)
    if confirm is not None:
        print("HAZARDOUS %s" % confirm.text, flush=True)
    sent = threading.Event()

    def show_report(rec):  # what the command caused: PONG, PARAM, SCHEDULE, events
        if sent.is_set() and rec.service != 1 and rec.name != "HK":
            print("          %s" % rec, flush=True)

    with _client(a, on_stage=_print_stage, on_record=show_report) as c:
        sent.set()
        v = c.send(a.command, *a.args, confirm=a.yes)
        print(v)


def _watch(a, archive, show):
    """Receive until --count records, --duration seconds or Ctrl-C; returns how many."""
    records = queue.Queue()
    def states(state):  # on stderr: stdout carries telemetry only
        if state != CLOSED:
            print("link: %s" % state, file=sys.stderr, flush=True)
    n = 0
    end = time.monotonic() + a.duration if a.duration else None
    with _client(a, archive=archive, on_record=records.put, on_state=states):
        try:
            while not (a.count and n >= a.count):
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
    return n


def _show(a):
    if a.json:
        return lambda rec: print(json.dumps(rec.to_json()), flush=True)
    return lambda rec: print(rec, flush=True)


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
    print("recorded %d packets to %s" % (n, a.db))


def cmd_replay(a):
    archive = open_existing(a.file)
    try:
        frames = archive.frames()
    finally:
        archive.close()
    show = _show(a)
    for _t, direction, raw in frames:
        if direction == "TC":
            text, rid = codec.describe_tc(raw), int.from_bytes(raw[:4], "big")
            print(json.dumps({"tc": text, "request_id": rid}) if a.json else "TC %s [0x%08X]" % (text, rid))
        else:
            rec = codec.decode(raw)
            if rec is not None:
                show(rec)


def cmd_plot(a):
    from ground.plot import plot  # matplotlib loads only here

    n = plot(a.file, a.out, tuple(a.fields.split(",")) if a.fields else DEFAULT_FIELDS)
    print("plotted %d housekeeping reports to %s" % (n, a.out))


def cmd_dictionary(a):
    print(icd.dictionary_text())


def cmd_xtce(a):
    print(xtce.document(), end="")


def cmd_console(a):
    from ground.console import run

    run(a.url, db=None if a.no_record else a.db, baudrate=a.baud, timeout=a.timeout, retries=a.retries)


def _link_args(p):
    p.add_argument("url", help="pyserial URL of the payload link")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for serial devices (default 115200)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds without a verification report before giving up (default %(default)s)")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help="resends, same request id, when nothing came back (default %(default)s)")


def _watch_args(p):
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--count", type=int, help="stop after this many packets")
    p.add_argument("--duration", type=float, help="stop after this many seconds")


# name -> (handler, help, argument adders)
COMMANDS = {
    "send": (cmd_send, "send one telecommand and wait for its completion", (_link_args,)),
    "monitor": (cmd_monitor, "print decoded telemetry and events", (_link_args, _watch_args)),
    "record": (cmd_record, "archive every packet with its ground time into SQLite", (_link_args, _watch_args)),
    "replay": (cmd_replay, "play an archive back through the decoder", ()),
    "plot": (cmd_plot, "draw housekeeping fields of an archive over time", ()),
    "dictionary": (cmd_dictionary, "print the commands, telemetry and events of this build", ()),
    "console": (cmd_console, "the operator console (terminal UI)", (_link_args,)),
    "xtce": (cmd_xtce, "print the dictionary as XTCE 1.2, for Yamcs or COSMOS (see docs/INTEROP.md)", ()),
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
        if name == "replay":
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        else:
            p.add_argument("--out", required=True, help="image file to write (.png, .svg, .pdf)")
            p.add_argument("--fields", help="comma-separated HK fields (default: %s)" % ",".join(
                DEFAULT_FIELDS))
    elif name == "console":
        p.add_argument("--db", default=DEFAULT_DB, help="archive file (default %(default)s)")
        p.add_argument("--no-record", action="store_true", help="do not archive")


def parser():
    top = _Parser(prog="ground", description="Ground tools for the payload deployment controller.",
                  epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for name, (handler, text, adders) in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=text, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
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
        print("ground: %s" % e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
