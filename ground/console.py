"""The operator console (Textual): ``ground console URL``.

At 100 columns and more::

    +-- link state, command authority (ground server), url, every counter -------+
    +-- controller state, arm window, inhibits, age of the housekeeping --------+
    | SLOT 1      | SLOT 2      | SLOT 3      | SLOT 4                          |
    +-- housekeeping (limits in red) --+-- commands, stages, reports -----------+
    |                                   +-- events ----------------------------+
    +-- hint: usage, or the confirmation asked for -----------------------------+
    > command line (Up/Down: history; right arrow or Tab: accept the completion)
    +-- keys -------------------------------------------------------------------+

Below 100 columns the housekeeping table gives its width to the logs and F2
swaps them. Log panes wrap to their width, again when it changes.

The link thread never touches a widget: the Client's callbacks put records and
verification stages on a queue that a 10 Hz timer drains on the UI thread.
Through a ground server (``ground://``) the link line also shows who holds command
authority and how many messages the server dropped for this console; every
client's commands are logged with their owner; ``take`` (``take force``),
``release`` and ``approve N`` (two-person rule: the second person types the
same confirmation answer) act on the server, not the payload.
Everything drawn from telemetry shows its age and greys out once it is stale
(the link is down, or no housekeeping for ``_STALE_PERIODS`` report periods and
at least ``_STALE_MIN_S``). A command typed while the link is down is refused at
once. ARM, FIRE and every hazardous command are sent only after the operator
types the answer its confirmation asks for (ground/hazard.py: the hint says what
the command will do; the answer is the slot list itself, or the command's name).
"""

import collections
import queue
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DataTable, Footer, Input, RichLog, Static

from firmware import dictionary as d
from ground import codec, hazard, protocol
from ground.archive import Archive
from ground.client import COMPLETED, PENDING, Client, default_name, default_seq_file
from ground.errors import GroundError, LinkError, LocalError, UsageError
from ground.link import UP

_REFRESH = 0.1  # s between UI refreshes from the link queue
_STALE_MIN_S = 5.0  # housekeeping older than this (and than _STALE_PERIODS periods) is stale
_STALE_PERIODS = 3
_KEPT = 2000  # lines a log pane keeps (and rewraps on resize)
_HISTORY = 200  # command lines recalled with Up/Down
_SLOT_STYLE = {"STOWED": "bold white on dark_green", "FIRING": "bold black on yellow",
               "RELEASED": "bold white on blue", "FAILED": "bold white on red", "UNKNOWN": "bold white on magenta"}
STALE_STYLE = "grey50 on grey15"
_SEVERITY_STYLE = {"INFO": "", "LOW": "yellow", "MEDIUM": "bold yellow", "HIGH": "bold red"}
_STATUS_STYLE = {"COMPLETED": "green", "FAILED": "bold red", "TIMEOUT": "bold yellow"}
# Typed like commands, done by the ground server (``ground://``), not the payload: name -> (usage, what).
GROUND_ACTIONS = {"take": ("take [force]", "take command authority (force: from the client that holds it, logged)"),
                  "release": ("release", "give command authority up"),
                  "approve": ("approve N", "approve command N another operator sent (two-person rule): "
                                           "type its confirmation answer next")}
KEYS = (("F1, help, ?", "this help (help COMMAND: its usage in the hint line)"),
        ("Up / Down", "recall earlier command lines"),
        ("Right arrow, Tab", "accept the completion shown: command names, slots, slot lists, names"),
        ("Escape", "cancel a confirmation; close this help"),
        ("F2", "below 100 columns: housekeeping table or logs"),
        ("Ctrl+Q", "quit"))


def help_text():
    """The keys, then every command with its usage, as the help screen shows them."""
    text = Text("Keys\n", "bold")
    for key, what in KEYS:
        text.append("  %-18s %s\n" % (key, what))
    text.append("\nCommands (hazardous ones ask for a typed confirmation)\n", "bold")
    for entry in d.COMMANDS:
        text.append("  %s" % codec.usage(entry), "bold red" if entry.hazardous else "bold")
        text.append("\n      %s\n" % entry.description)
    text.append("\nThrough a ground server (ground://)\n", "bold")
    for usage, what in GROUND_ACTIONS.values():
        text.append("  %s" % usage, "bold")
        text.append("\n      %s\n" % what)
    return text


def complete(line, stowed):
    """``line`` with the rest of the word being typed, or None: a command name, a slot
    (the lowest of ``stowed``), the next slot of a slot list, a name of a named argument."""
    words = line.split(" ")
    if len(words) == 1:
        return _extend(line, words[0], codec.COMMAND_NAMES)
    entry = d.command(words[0].upper())
    if entry is None:
        return None
    args, typed = list(entry.args), words[1:]
    while len(typed) > 1 and args:  # the arguments before the one being typed
        if args[0].code == "tc":  # a nested command: complete it on its own
            nested = " ".join(typed)
            done = complete(nested, stowed)
            return None if done is None else line[:len(line) - len(nested)] + done
        args.pop(0)
        typed.pop(0)
    if not args:
        return None
    f, word = args[0], typed[0]
    if f.code == "tc":
        return _extend(line, word, codec.COMMAND_NAMES)
    if f.names is not None and f.names.kind == d.BITS:
        listed = [int(s) for s in word.split(",") if s.isdigit()]
        if word and not word.endswith(","):
            return None
        after = [s for s in stowed if not listed or s > listed[-1]]
        return line + str(after[0]) if after else None
    if f.names is not None:
        return _extend(line, word, f.names.names)
    if f.name == "slot" and not word and stowed:
        return line + str(stowed[0])
    return None


def _extend(line, word, names):
    if not word:
        return None
    match = next((n for n in names if n.startswith(word.upper()) and n != word.upper()), None)
    return line + match[len(word):] if match else None


class _Completion(Suggester):
    def __init__(self, stowed):
        super().__init__(use_cache=False, case_sensitive=True)
        self._stowed = stowed

    async def get_suggestion(self, value):
        return complete(value, self._stowed())


class CommandLine(Input):
    """The command line: Up/Down walk the lines entered before, Tab accepts the completion."""

    BINDINGS = [Binding("up", "history(-1)", "history", show=False), Binding("down", "history(1)", show=False),
                Binding("tab", "complete", "complete", show=False)]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.history = collections.deque(maxlen=_HISTORY)
        self._at = 0  # index into history while walking it; len(history): the new line

    def remember(self, line):
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._at = len(self.history)

    def action_history(self, step):
        at = min(max(self._at + step, 0), len(self.history))
        if at != self._at:
            self._at = at
            self.value = self.history[at] if at < len(self.history) else ""
            self.cursor_position = len(self.value)

    def action_complete(self):
        if self._suggestion:
            self.value = self._suggestion
            self.cursor_position = len(self.value)


class Log(RichLog):
    """A log pane whose lines wrap to its width, again whenever the width changes."""

    def __init__(self, **kw):
        super().__init__(markup=False, wrap=True, min_width=1, max_lines=_KEPT, **kw)
        self._texts = collections.deque(maxlen=_KEPT)
        self._drawn_width = 0

    def add(self, text):
        self._texts.append(text)
        self.write(text)

    def on_resize(self, event):
        width = self.scrollable_content_region.width
        if self._size_known and width != self._drawn_width:
            self.clear()
            for text in self._texts:
                self.write(text)
        self._drawn_width = width


class Help(ModalScreen):
    BINDINGS = [("escape", "dismiss", "close"), ("f1", "dismiss", "close"), ("q", "dismiss", "close")]
    CSS = "#help { width: 90%; height: 90%; border: round $primary; padding: 0 1; background: $surface; } " \
          "Help { align: center middle; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(), id="help-text")


class Console(App):
    TITLE = "payload ground console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    CSS = """
    #link, #controller { height: auto; max-height: 3; padding: 0 1; }
    #slots { height: 3; }
    .slot { width: 1fr; height: 3; content-align: center middle; text-align: center; margin: 0 1; }
    #main { height: 1fr; }
    #hk { width: 48; }
    #logs { width: 1fr; }
    #commands, #events { height: 1fr; border: round $primary; }
    #hint { height: auto; max-height: 4; padding: 0 1; }  /* a confirmation wraps: it must be read whole */
    .-narrow #hk { display: none; }
    .-narrow.show-hk #hk { display: block; width: 1fr; }
    .-narrow.show-hk #logs { display: none; }
    """
    BINDINGS = [Binding("ctrl+q", "quit", "quit"), Binding("f1", "help", "help"),
                Binding("f2", "toggle_hk", "housekeeping/logs"), Binding("escape", "cancel", "cancel")]

    def __init__(self, client, inbox, hint=""):
        super().__init__()
        self.client = client
        self.inbox = inbox  # records and (verification, stage) pairs from the link thread
        self.pending_confirmation = None  # (what, hazard.Confirmation, what to do once confirmed)
        self.active = []  # verifications still shown as running
        self.shared = protocol.is_server_url(client.link.url)  # through a server, with other clients
        self._hk_shown = None
        self._hint_first = hint
        self._notices_shown = 0
        self._approvals_shown = set()
        self._hk_interval = None  # s between the last two housekeeping reports
        self._stale = None  # whether the telemetry shown is drawn as stale

    def compose(self) -> ComposeResult:
        yield Static(id="link")
        yield Static(id="controller")
        with Horizontal(id="slots"):
            for i in range(d.N_SLOTS):
                yield Static("SLOT %d\n-" % (i + 1), id="slot%d" % (i + 1), classes="slot")
        with Horizontal(id="main"):
            yield DataTable(id="hk", cursor_type="none", zebra_stripes=True)
            with Vertical(id="logs"):
                yield Log(id="commands")
                yield Log(id="events")
        yield Static(id="hint")
        yield CommandLine(placeholder="command (e.g. PING, FIRE 2); F1 help", suggester=_Completion(self.stowed),
                          id="cmd")
        yield Footer()

    def on_mount(self):
        # widgets looked up once: the refresh timer may tick while the app tears them down
        self.w = {node.id: node for node in self.query("Static, DataTable, RichLog, Input")}
        self.w["commands"].border_title = "commands"
        self.w["events"].border_title = "events"
        table = self.w["hk"]
        table.add_column("housekeeping", key="field")
        table.add_column("value", key="value", width=30)
        table.add_row("received", "-", key="received")
        for f in d.HK_FIELDS:
            table.add_row(f.name, "-", key=f.name)
        self.set_interval(_REFRESH, self.refresh_from_link)
        self.refresh_from_link()
        self.w["cmd"].focus()
        if self._hint_first:
            self._hint(self._hint_first, "bold red")

    def stowed(self):
        """Slot numbers the latest housekeeping shows STOWED (every slot before any): for completion."""
        hk = self.client.latest_hk
        if hk is None:
            return list(range(1, d.N_SLOTS + 1))
        return [i for i in range(1, d.N_SLOTS + 1) if hk.values["slot%d" % i] == d.STOWED]

    # --- from the link -----------------------------------------------------------------

    def refresh_from_link(self):
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, codec.Record):
                self._record(item)
            else:
                self._stage(*item)
        for v in [v for v in self.active if v.status != PENDING]:
            self.active.remove(v)
            if v.status != COMPLETED or v.reason:  # a plain COMPLETED stage already said it
                self._log_command(v, Text(str(v.status) + (": " + v.reason if v.reason else ""),
                                          _STATUS_STYLE.get(v.status, "")))
        self._link_line()
        self._from_server()
        hk = self.client.latest_hk
        if hk is not None and hk is not self._hk_shown:
            if self._hk_shown is not None:
                self._hk_interval = hk.ground_time - self._hk_shown.ground_time
            self._hk_shown = hk
            self._stale = None  # redraw
        if self._hk_shown is not None:
            self._show_hk(self._hk_shown)

    def _record(self, rec):
        stamp = time.strftime("%H:%M:%S ")
        if rec.event or rec.error or rec.time_error:
            style = "bold red" if rec.error or rec.time_error else _SEVERITY_STYLE.get(rec.severity, "")
            self.w["events"].add(Text(stamp + str(rec), style))
        elif rec.service != d.SVC_VERIFICATION and rec.name != "HK":  # a report a command asked for
            self.w["commands"].add(Text(stamp + "  " + str(rec), "cyan"))

    def _stage(self, v, stage):
        if v not in self.active and v.owner != self.client.name and v.status == PENDING:
            self.active.append(v)  # another client's command: its end is shown too
        self._log_command(v, Text(str(stage), "red" if stage.code else ""))

    def _log_command(self, v, text):
        owner = "" if v.owner == self.client.name or not self.shared else "[%s] " % v.owner
        line = Text(time.strftime("%H:%M:%S ") + owner + "%s [0x%08X] " % (v.command, v.request_id))
        self.w["commands"].add(line + text)

    def _from_server(self):
        """Notices (authority, link) and approvals asked for, as the server told every client."""
        notices = self.client.notices
        for _t, text in notices[self._notices_shown:]:
            self.w["events"].add(Text(time.strftime("%H:%M:%S ") + "GROUND " + text, "bold cyan"))
        self._notices_shown = len(notices)
        for number, a in list(self.client.approvals.items()):
            if number not in self._approvals_shown and a["owner"] != self.client.name:
                self._approvals_shown.add(number)
                self.w["commands"].add(Text(time.strftime("%H:%M:%S ") + "APPROVAL %d asked by %s: %s. Type "
                                            "approve %d to approve it" % (number, a["owner"], a["text"], number),
                                            "bold white on dark_red"))

    def _link_line(self):
        link = self.client.link
        c = self.client.counters()
        text = Text.assemble(("LINK %s" % link.state, "bold white on %s" % ("green" if link.state == UP else "red")))
        if self.shared:  # who holds command authority comes right after the link state: it must show at 80 columns
            holder = self.client.authority
            mine = holder == self.client.name
            text.append(" ")
            text.append("AUTHORITY %s" % ("this console" if mine else holder or "nobody"),
                        "bold black on green" if mine else "bold white on dark_orange" if holder else "bold")
        text.append(" %s" % link.url)
        if link.state != UP and link.down_reason:
            text.append(" (%s)" % link.down_reason, "bold red")
        for label, keys in (("rx", ("rx_packets",)), ("dropped", ("crc_errors", "oversize", "undecodable")),
                            ("foreign", ("foreign",)), ("malformed", ("malformed",)), ("bad time", ("bad_time",)),
                            ("gaps", ("tm_gaps",)), ("lost", ("tm_lost",)), ("repeated", ("tm_repeated",)),
                            ("back", ("tm_back",)), ("reconnects", ("reconnects",))):
            n = sum(c[k] for k in keys)
            text.append("  %s %d" % (label, n), "bold yellow" if n and label != "rx" else "")
        if self.shared:
            text.append("  server dropped %d" % c["dropped"], "bold white on red" if c["dropped"] else "")
            served = link.archive
            if served and served["errors"]:
                text.append("  server archive FAILING (%d): %s" % (served["errors"], served["last_error"]),
                            "bold white on red")
        archive = self.client.archive
        if archive is not None:
            text.append("  archive %s" % archive.path)
            if archive.errors:
                text.append(" FAILING (%d): %s" % (archive.errors, archive.last_error), "bold white on red")
        self.w["link"].update(text)

    def _age(self, hk):
        """(seconds since ``hk`` arrived, whether it is stale)."""
        age = time.time() - hk.ground_time
        limit = max(_STALE_MIN_S, _STALE_PERIODS * (self._hk_interval or 0))
        return age, self.client.link.state != UP or age > limit

    def _show_hk(self, hk):
        age, stale = self._age(hk)
        self._show_age(hk, age, stale)
        if stale == self._stale:
            return
        self._stale = stale
        table = self.w["hk"]
        text = {}
        for name, value, bad in hk.rendered():
            text[name] = value
            style = STALE_STYLE if stale else "bold white on red" if bad else ""
            table.update_cell(name, "value", Text(value, style))
        v = hk.values
        for i in range(d.N_SLOTS):
            state = text["slot%d" % (i + 1)]
            burns = d.SLOT_COUNTS.item_count(v["attempts"], i)
            slot = self.w["slot%d" % (i + 1)]
            slot.update(Text("SLOT %d\n%s\nburns %d" % (i + 1, state, burns),
                             STALE_STYLE if stale else _SLOT_STYLE.get(state, "")))

    def _show_age(self, hk, age, stale):
        v = hk.values
        grey = STALE_STYLE if stale else None
        parts = [("STATE %s" % d.STATE_NAMES.text(v["state"]), grey or "bold"),
                 ("  arm window %ds  obt %s%s  " % (v["arm_left"], hk.obt, " !TIME" if hk.time_error else ""),
                  grey or "")]
        for bit, name in enumerate(d.INPUT_BITS):  # green: this inhibit allows deployment
            on = v["inputs"] >> bit & 1
            parts.append((" %s %s " % (name, "on" if on else "off"),
                          grey or ("black on green" if on else "white on red")))
        when = "HK %.1f s ago" % age
        parts.append(("  " + when + (", STALE: not the state now" if stale else ""), "bold yellow" if stale else ""))
        self.w["controller"].update(Text.assemble(*parts))
        self.w["hk"].update_cell("received", "value", Text(when + (" STALE" if stale else ""),
                                                           "bold yellow" if stale else ""))

    # --- from the operator ---------------------------------------------------------------

    def _hint(self, text, style=""):
        self.w["hint"].update(Text(text, style))

    def on_input_changed(self, event: Input.Changed):
        if self.pending_confirmation or not event.value:
            return  # keep the confirmation prompt, or the outcome of the line just entered
        word = event.value.split(" ", 1)[0].upper()
        entry = d.command(word)
        self._hint("usage: %s  -- %s%s" % (codec.usage(entry), entry.description,
                                            "  [HAZARDOUS]" if entry.hazardous else "") if entry else "")

    def on_input_submitted(self, event: Input.Submitted):
        line = event.value.strip()
        event.input.value = ""
        try:
            if self.pending_confirmation:
                self._confirm(line)
            elif line:
                self.w["cmd"].remember(line)
                self._command(line)
        except GroundError as e:
            self._hint(str(e), "bold red")

    def _command(self, line):
        words = line.split()
        if words[0].lower() in ("help", "?"):
            self._help(words[1:])
            return
        if words[0].lower() in GROUND_ACTIONS:
            self._ground_action(words[0].lower(), words[1:])
            return
        tc = self.client.build(words[0], *words[1:])
        confirm = hazard.confirmation(tc)
        if confirm is None:
            self._submit(tc)
            return
        self._check_link(tc)  # refused at once, not after the confirmation has been typed
        self.pending_confirmation = (tc, confirm, lambda: self._submit(tc))
        self._hint("HAZARDOUS %s. Type %s and Enter to send it; anything else cancels"
                   % (confirm.text, confirm.answer), "bold white on dark_red")

    def _help(self, words):
        if not words:
            self.action_help()
            return
        entry = codec.find_command(words[0])
        self._hint("usage: %s  -- %s%s" % (codec.usage(entry), entry.description,
                                            "  [HAZARDOUS]" if entry.hazardous else ""))

    def _check_link(self, tc):
        link = self.client.link
        if link.state != UP:
            raise LinkError("link %s: %s not sent%s" % (link.state, tc, " (%s)" % link.down_reason
                                                          if link.down_reason else ""))

    def _confirm(self, typed):
        what, confirm, go = self.pending_confirmation
        self.pending_confirmation = None
        if confirm.accepts(typed):
            go()
        else:
            self._hint("%s cancelled: confirmation did not match" % what, "bold yellow")

    def _ground_action(self, action, args):
        """take [force], release, approve N: the server's command authority and two-person rule."""
        if action == "take" and args in ([], ["force"]):
            self.client.take(force=bool(args))
            self._hint("command authority: %s" % self.client.authority)
        elif action == "release" and not args:
            self.client.release()
            self._hint("command authority released")
        elif action == "approve" and len(args) == 1 and args[0].isdigit():
            a = self.client.approvals.get(int(args[0]))
            if a is None:
                raise UsageError("no command waits for approval %s" % args[0])
            confirm = hazard.Confirmation(a["text"], a["answer"])
            self.pending_confirmation = ("approval %s" % args[0], confirm, lambda: self._approve(int(args[0])))
            self._hint("APPROVE %s from %s. Type %s and Enter to approve it; anything else cancels"
                       % (a["text"], a["owner"], a["answer"]), "bold white on dark_red")
        else:
            raise UsageError("usage: %s" % ", ".join(usage for usage, _what in GROUND_ACTIONS.values()))

    def _approve(self, number):
        try:
            self.client.approve(number)
            self._hint("approval %d given: the server sends it now" % number)
        except GroundError as e:
            self._hint(str(e), "bold red")

    def action_cancel(self):
        if self.pending_confirmation:
            self._hint("%s cancelled" % self.pending_confirmation[0], "bold yellow")
            self.pending_confirmation = None

    def action_help(self):
        self.push_screen(Help())

    def action_toggle_hk(self):
        self.screen.toggle_class("show-hk")

    def _submit(self, tc):
        self._check_link(tc)  # again after a confirmation: the link may have dropped while it was typed
        v = self.client.submit(tc, confirm=True)
        self.active.append(v)
        held = " held for approval %d by a second person" % v.held if v.held else ""
        self._log_command(v, Text("sent (attempt 1, timeout %gs)%s" % (v.timeout, held)))
        self._hint("")


def open_client(url, inbox, archive=None, **kw):
    """A Client whose records and verification stages go to the console's ``inbox``."""
    return Client(url, archive=archive, seq_file=default_seq_file(), name=default_name("console"),
                  on_record=inbox.put, on_stage=lambda v, stage: inbox.put((v, stage)), **kw)


def run(url, db=None, take=False, headless=False, **kw):
    """``ground console``: archive to ``db`` (None: no archive) while the console runs;
    ``take``: take command authority first (through a server).

    Raises LocalError if the console stopped on an error of its own (Textual has
    printed the traceback), so that the exit status says so.
    """
    archive = Archive(db) if db else None
    inbox = queue.SimpleQueue()
    try:
        with open_client(url, inbox, archive, **kw) as client:
            hint = ""
            try:
                if take:
                    client.take()
            except GroundError as e:
                hint = str(e)
            app = Console(client, inbox, hint)
            app.run(headless=headless)
    finally:
        if archive:
            archive.close()
    if app.return_code:
        raise LocalError("the console stopped on an error (its traceback is above)")
