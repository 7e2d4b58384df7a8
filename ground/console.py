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
from ground import codec, hazard
from ground.archive import Archive
from ground.client import COMPLETED, PENDING, Client, default_seq_file
from ground.errors import GroundError
from ground.link import UP

_REFRESH = 0.1  # s between UI refreshes from the link queue
_SLOT_STYLE = {"STOWED": "bold white on dark_green", "FIRING": "bold black on yellow",
               "RELEASED": "bold white on blue", "FAILED": "bold white on red", "UNKNOWN": "bold white on magenta"}
_SEVERITY_STYLE = {"INFO": "", "LOW": "yellow", "MEDIUM": "bold yellow", "HIGH": "bold red"}
_STATUS_STYLE = {"COMPLETED": "green", "FAILED": "bold red", "TIMEOUT": "bold yellow"}


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

    def __init__(self, client, inbox):
        super().__init__()
        self.client = client
        self.inbox = inbox  # records and (verification, stage) pairs from the link thread
        self.pending_confirmation = None  # (Telecommand, hazard.Confirmation)
        self.active = []  # verifications still shown as running
        self._hk_shown = None

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
        hk = self.client.latest_hk
        if hk is not None and hk is not self._hk_shown:
            self._hk_shown = hk
            self._show_hk(hk)

    def _record(self, rec):
        if rec.event or rec.error:
            style = "bold red" if rec.error else _SEVERITY_STYLE.get(rec.severity, "")
            self.w["events"].write(Text(time.strftime("%H:%M:%S ") + str(rec), style))

    def _stage(self, v, stage):
        self._log_command(v, Text(str(stage), "red" if stage.code else ""))

    def _log_command(self, v, text):
        line = Text(time.strftime("%H:%M:%S ") + "%s [0x%08X] " % (v.command, v.request_id))
        self.w["commands"].write(line + text)

    def _link_line(self):
        link = self.client.link
        c = link.counters()
        bad = c["crc_errors"] + c["oversize"] + c["undecodable"]
        text = Text.assemble(("LINK %s" % link.state, "bold white on %s" % ("green" if link.state == UP else "red")),
                             "  %s  rx %d  bad frames %d  TM gaps %d  reconnects %d" % (
                                 link.url, c["rx_packets"], bad, c["tm_gaps"], c["reconnects"]))
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
        tc = self.client.build(words[0], *words[1:])
        confirm = hazard.confirmation(tc)
        if confirm is not None:
            self.pending_confirmation = (tc, confirm)
            self._hint("HAZARDOUS %s. Type %s and Enter to send it; anything else cancels"
                       % (confirm.text, confirm.answer), "bold white on dark_red")
            return
        self._submit(tc)

    def _confirm(self, typed):
        tc, confirm = self.pending_confirmation
        self.pending_confirmation = None
        if confirm.accepts(typed):
            self._submit(tc)
        else:
            self._hint("%s cancelled: confirmation did not match" % tc, "bold yellow")

    def action_cancel(self):
        if self.pending_confirmation:
            self._hint("%s cancelled" % self.pending_confirmation[0], "bold yellow")
            self.pending_confirmation = None

    def _submit(self, tc):
        v = self.client.submit(tc, confirm=True)
        self.active.append(v)
        self._log_command(v, Text("sent (attempt 1, timeout %gs)" % v.timeout))
        self._hint("")


def open_client(url, inbox, archive=None, **kw):
    """A Client whose records and verification stages go to the console's ``inbox``."""
    return Client(url, archive=archive, seq_file=default_seq_file(), on_record=inbox.put,
                  on_stage=lambda v, stage: inbox.put((v, stage)), **kw)


def run(url, db=None, **kw):
    """``ground console``: archive to ``db`` (None: no archive) while the console runs."""
    archive = Archive(db) if db else None
    inbox = queue.SimpleQueue()
    try:
        with open_client(url, inbox, archive, **kw) as client:
            Console(client, inbox).run()
    finally:
        if archive:
            archive.close()
