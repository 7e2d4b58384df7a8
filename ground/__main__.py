"""``ground``: the command-line tools and the console, one subcommand each.

A command table (name -> handler, arguments) in the mpremote manner; every
operator mistake is a ``GroundError`` caught once in ``main``, printed as
``ground: message`` on stderr, with the exit code of its kind (ground/errors.py).
Output goes through ``_out``: whole lines, one thread at a time (verification
stages arrive on the link thread), and a reader that went away (``| head``)
ends the output quietly instead of a BrokenPipeError.
"""

import argparse
import contextlib
import json
import os
import queue
import secrets
import signal
import sys
import threading
import time

try:
    from ground import codec, errors, hazard, icd, procedure, protocol, replay, runner, xtce
    from ground.archive import Archive, open_existing
    from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client, counters_text, default_name, default_seq_file
    from ground.errors import AuthorityError, CommandFailed, GroundError, LinkError, UsageError
    from ground.link import CLOSED, DOWN
    from ground.plot import DEFAULT_FIELDS
except ImportError as e:  # a Python without the project's packages (outside .venv)
    print("ground: %s: run it from the project's venv (make venv; then . .venv/bin/activate)" % e, file=sys.stderr)
    sys.exit(2)

_MEANING = {
    errors.OK: "success",
    errors.FAILED: "the command failed or was refused by the payload (the reason is printed)",
    errors.USAGE: "usage: wrong arguments, unknown command, hazardous command without --yes, bad URL or file, "
                  "no command authority (ground server)",
    errors.LINK: "link: the port (or ground server) cannot be reached, another tool has the port, or it dropped",
    errors.TIMEOUT: "verification timeout: no report in time, the command's outcome is unknown",
    errors.LOCAL: "local: a file cannot be written, or the tool itself failed (the console crashed)",
}
_URL_HELP = ("URL: any pyserial URL: /dev/ttyACM0, socket://host:port, rfc2217://host:port, loop://;\n"
             "     or a ground server's: ground://host:port (see: ground serve --help)")
DEFAULT_DB = "ground-archive.sqlite"
DEFAULT_HTTP_PORT = 7011  # the web console's (the clients' is protocol.DEFAULT_PORT)
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

_PROC_RUN_EPILOG = """exit codes:
  0    the procedure passed every step
  1    it stopped FAILED, ABORTED or NO-GO (the END line says where and why), after its on-abort steps
  2    usage: the file does not check, a param missing or out of its values, URL and --dry-run
  3    link: the port (or ground server) cannot be reached, or the run's record did not all reach its archive
  130  interrupted (Ctrl-C), after its on-abort steps"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s (see: %s --help)" % (message, self.prog))


def _client(a, **kw):
    timing = {"timeout": a.timeout, "retries": a.retries} if "timeout" in a else {}
    return Client(a.url, baudrate=a.baud, seq_file=default_seq_file(), name=default_name(a.subcommand), **timing,
                  **kw)


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
        try:
            if a.take or a.force:
                c.take(force=a.force)
            sent.set()
            v = c.send(a.command, *a.args, confirm=a.yes)
        except AuthorityError as e:
            raise AuthorityError("%s (--take takes command authority, --force takes it over)" % e)
        _out(str(v))


def _watch(a, archive, show):
    """Receive until --count records, --duration seconds or Ctrl-C; then every counter on stderr.

    Ctrl-C only puts a stop mark in the queue (a SimpleQueue: its put is safe in a signal
    handler), so the interrupt never lands inside a write or a lock and the counters always follow.
    """
    records = queue.SimpleQueue()
    opened = []  # the link, once open (its first UP comes while it opens)

    def states(state):  # on stderr: stdout carries telemetry only
        why = opened[0].down_reason if opened and state == DOWN else ""
        if state != CLOSED:
            _out("link: %s%s" % (state, " (%s)" % why if why else ""), err=True)

    n = 0
    end = time.monotonic() + a.duration if a.duration else None
    with _client(a, archive=archive, on_record=records.put, on_state=states) as client:
        opened.append(client.link)
        main = threading.current_thread() is threading.main_thread()  # (a test may run it in a thread)
        interrupted = signal.signal(signal.SIGINT, lambda *_: records.put(None)) if main else None
        try:
            while not (a.count and n >= a.count) and not _gone.is_set():
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                try:
                    rec = records.get(timeout=left)
                except queue.Empty:
                    break
                if rec is None:  # Ctrl-C
                    break
                n += 1
                show(rec)
        finally:
            if main:
                signal.signal(signal.SIGINT, interrupted)
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
    shown = replay.Replay(replay.parse_types(a.type), a.json)
    since, until = replay.parse_time(a.since, "--since"), replay.parse_time(a.until, "--until")
    server = protocol.is_server_url(a.file)
    source = Client(a.file, name=default_name("replay")) if server else open_existing(a.file)
    try:
        sessions = source.sessions()
        if a.sessions:
            for s in sessions:
                _out("%d %s .. %s %s %s" % (s.id, replay.ground_text(s.start),
                                            replay.ground_text(s.end) if s.end else "cut-short", s.link, s.version))
            return
        rows = source.rows(since, until, _session(a.session, sessions))
    finally:
        source.close()
    for line in shown.lines(rows, sessions):
        if _gone.is_set():
            break
        _out(line)


def _session(text, sessions):
    """``--session N`` or ``last`` as a session id (None: every session)."""
    if text is None:
        return None
    ids = [s.id for s in sessions]
    number = ids[-1] if text == "last" and ids else int(text) if text.isdigit() else None
    if number not in ids:
        raise UsageError("--session: %r is not a session of this archive (%s; see --sessions)" % (
            text, "sessions %d..%d" % (ids[0], ids[-1]) if ids else "it has none"))
    return number


def cmd_serve(a):
    from ground import server  # asyncio loads only here
    from ground.console import run as console

    host, port = server.parse_listen(a.listen)
    token = a.token or os.environ.get("GROUND_TOKEN")
    server.check_token(host, token)
    http = server.parse_listen(a.http, "--http", DEFAULT_HTTP_PORT) if a.http else None
    # a browser beyond loopback takes command authority with a token: this one, unless --token gives one
    remote_token = secrets.token_urlsafe(12) if http and token is None and not server.loopback(http[0]) else None
    archive = Archive(a.db)
    try:
        s = server.Server(a.url, archive, two_person=a.two_person, token=token, remote_token=remote_token,
                          baudrate=a.baud, timeout=a.timeout, retries=a.retries, seq_file=default_seq_file())
        server.run(s, host, port, (lambda url: console(url, take=True, token=token)) if a.console else None, http)
    finally:
        archive.close()


def cmd_plot(a):
    from ground.plot import plot  # matplotlib loads only here

    n = plot(a.file, a.out, tuple(a.fields.split(",")) if a.fields else DEFAULT_FIELDS)
    _out("plotted %d housekeeping reports to %s" % (n, a.out))


def cmd_dictionary(a):
    _out(icd.dictionary_text())


def cmd_xtce(a):
    _out(xtce.document().rstrip("\n"))


def cmd_console(a):
    from ground.console import run

    local = not protocol.is_server_url(a.url)  # through a server, the server's archive has it all
    run(a.url, db=a.db if local and not a.no_record else None, take=a.take, baudrate=a.baud, timeout=a.timeout,
        retries=a.retries)


def cmd_proc(a):
    {"check": _proc_check, "run": _proc_run, "replay": _proc_replay}[a.action](a)


def _proc_check(a):
    mistakes = [m for path in a.files for m in procedure.check(procedure.read(path), path)]
    for m in mistakes:
        _out(m)
    if mistakes:
        raise UsageError("%d mistake%s: fix them before the procedure is flown" % (
            len(mistakes), "" if len(mistakes) == 1 else "s"))
    _out("%d procedure%s checked: fit to run" % (len(a.files), "" if len(a.files) == 1 else "s"))


def _proc_run(a):
    proc = procedure.load(a.file, procedure.param_values(a.param))
    if (a.url is None) != a.dry_run:
        raise UsageError("give the payload's URL, or --dry-run to rehearse on a fresh simulated board (not both)")
    server = a.url is not None and protocol.is_server_url(a.url)
    if server and (a.db or a.no_record):
        raise UsageError("through a server the run is recorded in the server's archive, with every frame: "
                         "--db and --no-record are for a link of this process's own")
    archive = None if a.no_record or server else Archive(a.db or DEFAULT_DB)
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(runner.rehearsal_board()) if a.dry_run else a.url
            client = stack.enter_context(Client(url, baudrate=a.baud, timeout=a.timeout, retries=a.retries,
                                                archive=archive, seq_file=default_seq_file(),
                                                name=default_name("proc")))
            if a.dry_run:
                runner.await_payload(client)
            about = {"link": url + (" (dry run: a fresh simulated board)" if a.dry_run else "")}
            if server:
                about["link"] += " (a ground server on %s)" % client.link.payload_url
            try:
                if a.take or a.force:
                    client.take(force=a.force)
                outcome = runner.Runner(proc, client, runner.TerminalOperator(), yes=a.yes,
                                        sinks=[lambda e: _out(str(e))], about=about).run()
            except AuthorityError as e:
                raise AuthorityError("%s (--take takes command authority, --force takes it over)" % e)
    finally:
        if archive:
            archive.close()
    if client.unlogged:
        lost = "%d %s of the run did not reach the archive of %s: its record is incomplete" % (
            client.unlogged, "entry" if client.unlogged == 1 else "entries", url)
        if outcome.status == runner.PASSED:
            raise LinkError("%s PASSED, but %s" % (proc.name, lost))
        _out("ground: %s" % lost, err=True)
    if outcome.status == runner.INTERRUPTED:
        raise KeyboardInterrupt
    if outcome.status != runner.PASSED:
        raise CommandFailed("%s %s" % (proc.name, outcome))


def _proc_replay(a):
    server = protocol.is_server_url(a.db)
    source = Client(a.db, name=default_name("proc replay")) if server else open_existing(a.db)
    try:
        if a.list:
            for r in runner.runs(source):
                _out("%s  %s  %s  sha256 %s  session %s  %s" % (
                    r["run"], replay.ground_text(r["t"]), r.get("procedure", "?"), r.get("sha256", "?")[:12],
                    r["session"], r["end"]))
            return
        first, entries = runner.replay(source, a.run, "%s %s" % ("server" if server else "archive", a.db))
    finally:
        source.close()
    if a.source:
        if "source" not in first:
            raise UsageError("the first entry of the run, with its text, is not in %s" % a.db)
        _out(first["source"].removesuffix("\n"))  # _out ends the line
        return
    for entry in entries:
        _out(str(entry))


def _link_args(p, required=True):
    p.add_argument("url", nargs=None if required else "?",
                   help="pyserial URL of the payload link, or ground://HOST:PORT of a ground server")
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
    "replay": (cmd_replay, "play an archive (or a ground server's) back through the decoder", (_json_arg,),
               (0, 2, 3)),
    "plot": (cmd_plot, "draw housekeeping fields of an archive over time", (), (0, 2, 5)),
    "dictionary": (cmd_dictionary, "print the commands, telemetry and events of this build", (), (0,)),
    "console": (cmd_console, "the operator console (terminal UI)", (_link_args, _command_args), (0, 2, 3, 5)),
    "xtce": (cmd_xtce, "print the dictionary as XTCE 1.2, for Yamcs or COSMOS (see docs/INTEROP.md)", (), (0,)),
    "serve": (cmd_serve, "the ground server: the only process on the link; consoles and tools join it at "
              "ground://HOST:PORT", (_link_args, _command_args), (0, 2, 3, 5)),
    "proc": (cmd_proc, "procedures: check a file, run it (or rehearse it on a simulated board), replay a run", (),
             (0, 1, 2, 3)),
}


def _specific_args(name, p):
    if name == "send":
        p.add_argument("command", help="command name (see: ground dictionary)")
        p.add_argument("args", nargs="*", default=[], help="command arguments")
        p.add_argument("--yes", action="store_true", help="confirm a hazardous command (ARM, FIRE, ...)")
        _authority_args(p)
    elif name in ("monitor", "record"):
        p.add_argument("--db", required=name == "record", help="SQLite archive file")
    elif name in ("replay", "plot"):
        p.add_argument("file", help="SQLite archive file" + (", or ground://HOST:PORT: a server's" if name == "replay"
                                                             else ""))
        if name == "replay":
            _replay_args(p)
        else:
            p.add_argument("--out", required=True, help="image file to write (.png, .svg, .pdf)")
            p.add_argument("--fields", help="comma-separated HK fields (default: %s)" % ",".join(
                DEFAULT_FIELDS))
    elif name == "console":
        p.add_argument("--db", default=DEFAULT_DB, help="archive file (default %(default)s; through a server: the "
                                                        "server's archive)")
        p.add_argument("--no-record", action="store_true", help="do not archive")
        p.add_argument("--take", action="store_true", help="through a server: take command authority at once")
    elif name == "serve":
        p.add_argument("--listen", default="127.0.0.1:%d" % protocol.DEFAULT_PORT,
                       help="HOST:PORT for the clients (default %(default)s; port 0: any free one)")
        p.add_argument("--db", default=DEFAULT_DB, help="archive file (default %(default)s)")
        p.add_argument("--two-person", action="store_true",
                       help="hold every hazardous command (ARM, FIRE, ...) until a second client approves it")
        p.add_argument("--token", help="needed by clients to take command authority or approve (default: "
                                       "$GROUND_TOKEN; required when --listen is not loopback)")
        p.add_argument("--console", action="store_true",
                       help="also run the console on this server, with command authority; quitting it stops all")
        p.add_argument("--http", nargs="?", const="127.0.0.1:%d" % DEFAULT_HTTP_PORT, metavar="HOST:PORT",
                       help="also serve the web console there (alone: 127.0.0.1:%d; port 0: any free one); beyond "
                            "loopback, command authority needs a token: --token, or one printed at start"
                            % DEFAULT_HTTP_PORT)
    elif name == "proc":
        _proc_args(p)


def _proc_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    check = sub.add_parser("check", help="validate procedure files against the dictionary, without a link")
    check.add_argument("files", nargs="+", metavar="FILE", help="procedure file")
    run = sub.add_parser("run", help="fly a procedure step by step", epilog=_PROC_RUN_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("file", help="procedure file")
    _link_args(run, required=False)
    _command_args(run)
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a param's value")
    run.add_argument("--yes", action="store_true",
                     help="confirm every hazardous command now, at launch (recorded); go/no-go steps still ask")
    run.add_argument("--dry-run", action="store_true", help="rehearse on a fresh simulated board (no URL)")
    run.add_argument("--db", help="archive file for the run and the frames of its link (default %s; through a "
                                   "server: the server's archive)" % DEFAULT_DB)
    run.add_argument("--no-record", action="store_true", help="do not archive (not through a server)")
    _authority_args(run)
    again = sub.add_parser("replay", help="print a recorded run again, as it was shown (with every frame: "
                                          "ground replay FILE --session N)")
    again.add_argument("db", metavar="ARCHIVE", help="archive file, or ground://HOST:PORT: a server's")
    again.add_argument("run", nargs="?", help="the run's id (default: the last run; --list shows them)")
    again.add_argument("--list", action="store_true", help="list the runs in the archive, with their sessions")
    again.add_argument("--source", action="store_true", help="print the procedure text that was flown")


def _authority_args(p):
    p.add_argument("--take", action="store_true", help="through a server: take command authority first")
    p.add_argument("--force", action="store_true",
                   help="through a server: take command authority even from another client (logged)")


def _replay_args(p):
    p.add_argument("--since", help="from this ground time on (ISO 8601, UTC unless it says: 2026-06-13T10:00:00)")
    p.add_argument("--until", help="up to this ground time (same form)")
    p.add_argument("--type", help="only these rows, comma-separated: TC, TM, EVENT, LINK, CLIENT, AUTHORITY, "
                                  "APPROVAL, COMMAND, PROCEDURE, FOREIGN, or a telemetry or event name (HK, RELEASED)")
    p.add_argument("--session", help="only this session (its number, or last)")
    p.add_argument("--sessions", action="store_true", help="list the sessions (start, end, link, software) and stop")


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
