"""``ground``: the command-line tools and the console, one subcommand each.

A command table (name -> handler, arguments) in the mpremote manner; every
operator mistake is a ``GroundError`` caught once in ``main``, printed as
``ground: message`` on stderr, with the exit code of its kind (see EPILOG).
"""

import argparse
import contextlib
import json
import queue
import sys
import threading
import time

from ground import codec, hazard, icd, procedure, runner, xtce
from ground.archive import Archive, open_existing
from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client, default_seq_file
from ground.errors import CommandFailed, GroundError, UsageError
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
_PROC_RUN_EPILOG = """exit codes:
  0    the procedure passed every step
  1    it stopped FAILED, ABORTED or NO-GO (the END line says where and why), after its on-abort steps
  2    usage: the file does not check, a param missing or out of its values, URL and --dry-run
  3    link: the port cannot be opened
  130  interrupted (Ctrl-C), after its on-abort steps"""


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
        if direction == "TC" and a.json:
            print(json.dumps({"tc": codec.describe_tc(raw), "request_id": int.from_bytes(raw[:4], "big")}))
        elif direction == "TC":
            print("TC " + _tc_text(raw))
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


def cmd_proc(a):
    {"check": _proc_check, "run": _proc_run, "replay": _proc_replay}[a.action](a)


def _proc_check(a):
    mistakes = [m for path in a.files for m in procedure.check(procedure.read(path), path)]
    for m in mistakes:
        print(m)
    if mistakes:
        raise UsageError("%d mistake%s: fix them before the procedure is flown" % (
            len(mistakes), "" if len(mistakes) == 1 else "s"))
    print("%d procedure%s checked: fit to run" % (len(a.files), "" if len(a.files) == 1 else "s"))


def _proc_values(words):
    """{NAME: VALUE} of -p NAME=VALUE options."""
    pairs = [w.partition("=") for w in words]
    bad = [w for w, (_n, eq, _v) in zip(words, pairs, strict=True) if not eq]
    if bad:
        raise UsageError("-p takes NAME=VALUE, got %r" % bad[0])
    return {n: v for n, _eq, v in pairs}


def _proc_run(a):
    text = procedure.read(a.file)
    mistakes = procedure.check(text, a.file)
    if mistakes:
        raise UsageError("%s does not check, so it is not flown:\n%s" % (a.file, "\n".join(mistakes)))
    proc = procedure.parse(text, a.file, _proc_values(a.param))
    if (a.url is None) != a.dry_run:
        raise UsageError("give the payload's URL, or --dry-run to rehearse on a fresh simulated board (not both)")
    archive = None if a.no_record else Archive(a.db)
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(runner.rehearsal_board()) if a.dry_run else a.url
            client = stack.enter_context(Client(url, baudrate=a.baud, timeout=a.timeout, retries=a.retries,
                                                archive=archive, seq_file=default_seq_file()))
            if a.dry_run:
                runner.await_payload(client)
            about = {"link": url + (" (dry run: a fresh simulated board)" if a.dry_run else "")}
            outcome = runner.Runner(proc, client, runner.TerminalOperator(), yes=a.yes, archive=archive,
                                    sinks=[lambda e: print(e, flush=True)], about=about).run()
    finally:
        if archive:
            archive.close()
    if outcome.status == runner.INTERRUPTED:
        raise KeyboardInterrupt
    if outcome.status != runner.PASSED:
        raise CommandFailed("%s %s" % (proc.name, outcome))


def _proc_replay(a):
    archive = open_existing(a.db)
    try:
        if a.list:
            for r in runner.runs(archive):
                print("%s  %s  %s  sha256 %s  %s" % (r["run"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r["t"])),
                                                     r["procedure"], r["sha256"][:12], r["end"]))
            return
        first, entries = runner.replay(archive, a.run)
        if a.source:
            print(first["source"], end="")
            return
        if a.telemetry:  # each frame as an entry of its own, at its place in time
            frames = [(t, direction, raw) for t, direction, raw in archive.frames()
                      if entries[0].t <= t <= entries[-1].t]
            entries += [runner.Entry(t, "TC", None, _tc_text(raw)) for t, direction, raw in frames
                        if direction == "TC"]
            entries += [runner.Entry(t, "TM", None, str(rec)) for t, direction, raw in frames
                        if direction == "TM" and (rec := codec.decode(raw)) is not None]
    finally:
        archive.close()
    for entry in sorted(entries, key=lambda e: e.t):
        print(entry)


def _tc_text(raw):
    return "%s [0x%08X]" % (codec.describe_tc(raw), int.from_bytes(raw[:4], "big"))


def _link_args(p, required=True):
    p.add_argument("url", nargs=None if required else "?", help="pyserial URL of the payload link")
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
    "proc": (cmd_proc, "procedures: check a file, run it (or rehearse it on a simulated board), replay a run", ()),
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
        _archive_args(p)
    elif name == "proc":
        _proc_args(p)


def _archive_args(p):
    p.add_argument("--db", default=DEFAULT_DB, help="archive file (default %(default)s)")
    p.add_argument("--no-record", action="store_true", help="do not archive")


def _proc_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    check = sub.add_parser("check", help="validate procedure files against the dictionary, without a link")
    check.add_argument("files", nargs="+", metavar="FILE", help="procedure file")
    run = sub.add_parser("run", help="fly a procedure step by step", epilog=_PROC_RUN_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("file", help="procedure file")
    _link_args(run, required=False)
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a param's value")
    run.add_argument("--yes", action="store_true",
                     help="confirm every hazardous command now, at launch (recorded); go/no-go steps still ask")
    run.add_argument("--dry-run", action="store_true", help="rehearse on a fresh simulated board (no URL)")
    _archive_args(run)
    replay = sub.add_parser("replay", help="print a recorded run again, as it was shown")
    replay.add_argument("db", help="archive file")
    replay.add_argument("run", nargs="?", help="the run's id (default: the last run; --list shows them)")
    replay.add_argument("--list", action="store_true", help="list the runs in the archive")
    replay.add_argument("--telemetry", action="store_true", help="with the TCs and TM archived during the run")
    replay.add_argument("--source", action="store_true", help="print the procedure text that was flown")


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
