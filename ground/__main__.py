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
    from ground import codec, errors, hazard, icd, protocol, replay, xtce
    from ground.archive import Archive, open_existing
    from ground.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client, counters_text, default_name, default_seq_file
    from ground.errors import AuthorityError, GroundError, UsageError
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
    archive = Archive(a.db)
    try:
        s = server.Server(a.url, archive, two_person=a.two_person, token=token, baudrate=a.baud,
                          timeout=a.timeout, retries=a.retries, seq_file=default_seq_file())
        server.run(s, host, port, (lambda url: console(url, take=True, token=token)) if a.console else None)
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


def _link_args(p):
    p.add_argument("url", help="pyserial URL of the payload link, or ground://HOST:PORT of a ground server")
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


def _authority_args(p):
    p.add_argument("--take", action="store_true", help="through a server: take command authority first")
    p.add_argument("--force", action="store_true",
                   help="through a server: take command authority even from another client (logged)")


def _replay_args(p):
    p.add_argument("--since", help="from this ground time on (ISO 8601, UTC unless it says: 2026-06-13T10:00:00)")
    p.add_argument("--until", help="up to this ground time (same form)")
    p.add_argument("--type", help="only these rows, comma-separated: TC, TM, EVENT, LINK, CLIENT, AUTHORITY, "
                                  "APPROVAL, COMMAND, FOREIGN, or a telemetry or event name (HK, RELEASED)")
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
