"""The operator console (Textual): ``ground console URL``.

::

    +-- link state, url, counters ---------------------------------------------+
    +-- controller state, arm window, inhibits --------------------------------+
    | SLOT 1      | SLOT 2      | SLOT 3      | SLOT 4                          |
    +-- housekeeping (limits in red) --+-- commands and their verification ----+
    |                                   +-- events ----------------------------+
    +-- hint: usage, or the confirmation asked for -----------------------------+
    > command line (completion over the dictionary: right arrow accepts)

The link thread never touches a widget: the Client's callbacks put records and
verification stages on a queue that a 10 Hz timer drains on the UI thread.
Through a ground server (``ground://``) the link line also shows who holds command
authority and how many messages the server dropped for this console; every
client's commands are logged with their owner; ``take`` (``take force``),
``release`` and ``approve N`` (two-person rule: the second person types the
same confirmation answer) act on the server, not the payload.
ARM, FIRE and every hazardous command are sent only after the operator types
the answer its confirmation asks for (ground/hazard.py: the hint says what the
command will do; the answer is the slot list itself, or the command's name).
"""

import queue
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input, RichLog, Static

from firmware import dictionary as d
from ground import codec, hazard, protocol
from ground.archive import Archive
from ground.client import COMPLETED, PENDING, Client, default_name, default_seq_file
from ground.errors import GroundError, UsageError
from ground.link import UP

_REFRESH = 0.1  # s between UI refreshes from the link queue
_SLOT_STYLE = {"STOWED": "bold white on dark_green", "FIRING": "bold black on yellow",
               "RELEASED": "bold white on blue", "FAILED": "bold white on red", "UNKNOWN": "bold white on magenta"}
_SEVERITY_STYLE = {"INFO": "", "LOW": "yellow", "MEDIUM": "bold yellow", "HIGH": "bold red"}
_STATUS_STYLE = {"COMPLETED": "green", "FAILED": "bold red", "TIMEOUT": "bold yellow"}
_GROUND_ACTIONS = ("take", "release", "approve")  # typed like commands, done by the ground server


class Console(App):
    TITLE = "payload ground console"
    CSS = """
    #link, #controller { height: 1; padding: 0 1; }
    #slots { height: 3; }
    .slot { width: 1fr; height: 3; content-align: center middle; text-align: center; margin: 0 1; }
    #main { height: 1fr; }
    #hk { width: 50; }
    #logs { width: 1fr; }
    #commands, #events { height: 1fr; border: round $primary; }
    #hint { height: auto; max-height: 4; padding: 0 1; }  /* a confirmation wraps: it must be read whole */
    """
    BINDINGS = [("ctrl+q", "quit", "quit"), ("escape", "cancel", "cancel confirmation")]

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

    def compose(self) -> ComposeResult:
        yield Static(id="link")
        yield Static(id="controller")
        with Horizontal(id="slots"):
            for i in range(d.N_SLOTS):
                yield Static("SLOT %d\n-" % (i + 1), id="slot%d" % (i + 1), classes="slot")
        with Horizontal(id="main"):
            yield DataTable(id="hk", cursor_type="none", zebra_stripes=True)
            with Vertical(id="logs"):
                yield RichLog(id="commands", markup=False, wrap=True)
                yield RichLog(id="events", markup=False, wrap=True)
        yield Static(id="hint")
        yield Input(placeholder="command (e.g. PING, FIRE 2); right arrow completes",
                    suggester=SuggestFromList(codec.COMMAND_NAMES, case_sensitive=False), id="cmd")

    def on_mount(self):
        # widgets looked up once: the refresh timer may tick while the app tears them down
        self.w = {node.id: node for node in self.query("Static, DataTable, RichLog, Input")}
        self.w["commands"].border_title = "commands"
        self.w["events"].border_title = "events"
        table = self.w["hk"]
        table.add_column("housekeeping", key="field")
        table.add_column("value", key="value", width=30)
        for f in d.HK_FIELDS:
            table.add_row(f.name, "-", key=f.name)
        self.set_interval(_REFRESH, self.refresh_from_link)
        self.refresh_from_link()
        self.w["cmd"].focus()
        if self._hint_first:
            self._hint(self._hint_first, "bold red")

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
            self._hk_shown = hk
            self._show_hk(hk)

    def _record(self, rec):
        if rec.event or rec.error:
            style = "bold red" if rec.error else _SEVERITY_STYLE.get(rec.severity, "")
            self.w["events"].write(Text(time.strftime("%H:%M:%S ") + str(rec), style))

    def _stage(self, v, stage):
        if v not in self.active and v.owner != self.client.name and v.status == PENDING:
            self.active.append(v)  # another client's command: its end is shown too
        self._log_command(v, Text(str(stage), "red" if stage.code else ""))

    def _log_command(self, v, text):
        owner = "" if v.owner == self.client.name or not self.shared else "[%s] " % v.owner
        line = Text(time.strftime("%H:%M:%S ") + owner + "%s [0x%08X] " % (v.command, v.request_id))
        self.w["commands"].write(line + text)

    def _from_server(self):
        """Notices (authority, link) and approvals asked for, as the server told every client."""
        notices = self.client.notices
        for _t, text in notices[self._notices_shown:]:
            self.w["events"].write(Text(time.strftime("%H:%M:%S ") + "GROUND " + text, "bold cyan"))
        self._notices_shown = len(notices)
        for number, a in list(self.client.approvals.items()):
            if number not in self._approvals_shown and a["owner"] != self.client.name:
                self._approvals_shown.add(number)
                self.w["commands"].write(Text(time.strftime("%H:%M:%S ") + "APPROVAL %d asked by %s: %s. Type "
                                              "approve %d to approve it" % (number, a["owner"], a["text"], number),
                                              "bold white on dark_red"))

    def _link_line(self):
        link = self.client.link
        c = link.counters()
        bad = c["crc_errors"] + c["oversize"] + c["undecodable"]
        text = Text.assemble(("LINK %s" % link.state, "bold white on %s" % ("green" if link.state == UP else "red")))
        if self.shared:  # who holds command authority comes first: it must show at 80 columns
            holder = self.client.authority
            mine = holder == self.client.name
            text.append("  ")
            text.append("AUTHORITY %s" % ("this console" if mine else holder or "nobody"),
                        "bold black on green" if mine else "bold white on dark_orange" if holder else "bold")
        text.append("  %s  rx %d  bad frames %d  TM gaps %d  reconnects %d" % (
            link.url, c["rx_packets"], bad, c["tm_gaps"], c["reconnects"]))
        if self.shared:
            text.append("  dropped %d" % c["dropped"], "bold white on red" if c["dropped"] else "")
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

    def _show_hk(self, hk):
        table = self.w["hk"]
        text = {}
        for name, value, bad in hk.rendered():
            text[name] = value
            table.update_cell(name, "value", Text(value, "bold white on red" if bad else ""))
        v = hk.values
        for i in range(d.N_SLOTS):
            state = text["slot%d" % (i + 1)]
            burns = d.SLOT_COUNTS.item_count(v["attempts"], i)
            slot = self.w["slot%d" % (i + 1)]
            slot.update(Text("SLOT %d\n%s\nburns %d" % (i + 1, state, burns), _SLOT_STYLE.get(state, "")))
        parts = [("STATE %s" % text["state"], "bold"), "  arm window %ds  " % v["arm_left"], "obt %s  " % hk.obt]
        for bit, name in enumerate(d.INPUT_BITS):  # green: this inhibit allows deployment
            on = v["inputs"] >> bit & 1
            parts.append((" %s %s " % (name, "on" if on else "off"), "black on green" if on else "white on red"))
        self.w["controller"].update(Text.assemble(*parts))

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
                self._command(line)
        except GroundError as e:
            self._hint(str(e), "bold red")

    def _command(self, line):
        words = line.split()
        if words[0].lower() in _GROUND_ACTIONS:
            self._ground_action(words[0].lower(), words[1:])
            return
        tc = self.client.build(words[0], *words[1:])
        confirm = hazard.confirmation(tc)
        if confirm is not None:
            self.pending_confirmation = (tc, confirm, lambda: self._submit(tc))
            self._hint("HAZARDOUS %s. Type %s and Enter to send it; anything else cancels"
                       % (confirm.text, confirm.answer), "bold white on dark_red")
            return
        self._submit(tc)

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
            raise UsageError("usage: take, take force, release, approve N")

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

    def _submit(self, tc):
        v = self.client.submit(tc, confirm=True)
        self.active.append(v)
        held = " held for approval %d by a second person" % v.held if v.held else ""
        self._log_command(v, Text("sent (attempt 1, timeout %gs)%s" % (v.timeout, held)))
        self._hint("")


def open_client(url, inbox, archive=None, **kw):
    """A Client whose records and verification stages go to the console's ``inbox``."""
    return Client(url, archive=archive, seq_file=default_seq_file(), name=default_name("console"),
                  on_record=inbox.put, on_stage=lambda v, stage: inbox.put((v, stage)), **kw)


def run(url, db=None, take=False, **kw):
    """``ground console``: archive to ``db`` (None: no archive) while the console runs;
    ``take``: take command authority first (through a server)."""
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
            Console(client, inbox, hint).run()
    finally:
        if archive:
            archive.close()
