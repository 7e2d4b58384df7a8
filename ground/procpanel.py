"""The console's procedure panel (F3): choose a procedure, fly it, follow its steps, answer, stop.

::

    +-- the run: procedure, RUNNING line N, or how it ended ---------------------------+
    | shipped procedures     | line | verdict            | step                         |
    | (Enter: onto the line; |      |                    |                              |
    |  hidden while flying)  |      |                    |                              |
    +-- the run's entries, as `ground proc run` prints them ----------------------------+
    +-- the question asked: a go/no-go, or the answer a hazardous command needs --------+
    > NAME [PARAM=VALUE ...] flies it; while a question is asked, the answer
    +-- keys: F3 back to the console, F4 stop the run --------------------------------+

The run flies on a thread of its own (runner.Runner, as ``ground proc run`` flies it, with the
console's client: recorded in its archive, or in the server's). Its entries and questions
reach the UI thread through the console's inbox, as the link's records do; the operator's
answer goes back with ``Question.answer``. F4 stops the run as Ctrl-C stops ``ground proc
run``: the step waiting ends and the on-abort steps make the payload safe.
"""

import threading
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from ground import procedure, runner
from ground.errors import AuthorityError, GroundError, UsageError

_KIND_STYLE = {"OK": "green", "FAIL": "bold red", "NO-GO": "bold yellow", "ABORT": "bold red", "ASK": "bold",
               "LINK": "bold yellow", "END": "bold"}
_ENDED_STYLE = {runner.PASSED: "bold white on dark_green"}
_VERDICTS = ("OK", "FAIL", "NO-GO", "ABORT")  # entries that judge the step of their line
_VERDICT_WIDTH = 32  # the rest of a verdict is in the entries below


class ProcedurePanel(Screen):
    """Installed once by the console: it keeps the run while the operator looks at the console."""

    BINDINGS = [Binding("f3", "app.pop_screen", "console"), Binding("f4", "stop", "stop the run")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    SCOPED_CSS = False  # the rules above select on the screen's own classes
    CSS = """
    #proc-status { height: auto; max-height: 2; padding: 0 1; }
    #proc-top { height: 1fr; }
    #proc-list { width: 44; border: round $primary; }
    ProcedurePanel.-narrow #proc-list { width: 26; }
    ProcedurePanel.-flying #proc-list { display: none; }  /* the steps take the width while a run flies */
    #proc-steps { width: 1fr; }
    #proc-log { height: 8; border: round $primary; }
    #proc-hint { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, client, inbox):
        super().__init__()
        self.client = client
        self.inbox = inbox  # the console's: entries and questions go to the UI thread through it
        self.runner = None
        self.thread = None
        self.question = None  # the one waiting for the operator's answer
        self._asked = None  # the question last put in the hint line
        self.entries = []  # of the last run, kept while the screen is not drawn yet
        self._rows = {}  # procedure line -> row key of the steps table
        self._drawn = 0  # entries drawn
        self._mounted = False

    def compose(self) -> ComposeResult:
        yield Static(id="proc-status")
        with Horizontal(id="proc-top"):
            yield OptionList(*[Option(procedure.usage(procedure.find(n)), id=n) for n in procedure.shipped()],
                             id="proc-list")
            yield DataTable(id="proc-steps", cursor_type="row", zebra_stripes=True)
        yield RichLog(id="proc-log", markup=False, wrap=True, max_lines=2000)
        yield Static(id="proc-hint")
        yield Input(placeholder="procedure [PARAM=VALUE ...] and Enter flies it; the answer to a question",
                    id="proc-input")
        yield Footer()

    def on_mount(self):
        self.query_one("#proc-list").border_title = "procedures"
        self.query_one("#proc-log").border_title = "entries"
        table = self.query_one("#proc-steps", DataTable)
        table.add_column("line", key="line")
        table.add_column("verdict", key="verdict", width=_VERDICT_WIDTH)  # before the step: it must show at 80
        table.add_column("step", key="step")
        self._mounted = True
        self._status()
        self.update()
        self.query_one("#proc-input").focus()

    # --- the run (the UI thread but for _fly and ask) ----------------------------------------

    def flying(self):
        return self.thread is not None and self.thread.is_alive()

    def fly(self, words):
        """Start procedure ``words[0]`` (shipped, or a file) with ``NAME=VALUE`` params; UsageError
        if it cannot start (it does not check, a param is wrong, no command authority)."""
        if self.flying():
            raise UsageError("%s is flying: F4 stops it" % self.runner.proc.name)
        proc = procedure.load(procedure.find(words[0]), procedure.param_values(words[1:]))
        if self.client.authority != self.client.name:
            raise AuthorityError("%s is not flown: command authority is %s's (F3 back to the console, then take)"
                                 % (proc.name, self.client.authority or "nobody"))
        self.runner = runner.Runner(proc, self.client, self, sinks=[self.inbox.put],
                                    about={"link": self.client.link.url, "flown from": "the console"})
        self.entries, self._drawn, self.question = [], 0, None
        self.thread = threading.Thread(target=self._fly, args=(self.runner,), name="procedure", daemon=True)
        self.thread.start()
        if self._mounted:
            self.query_one("#proc-steps", DataTable).clear()
            self._rows = {}
            self._status()
            self.add_class("-flying")

    def _fly(self, r):
        """The run's thread: every entry reaches the inbox (a sink); a refusal too, as an END of its own."""
        try:
            r.run()
        except GroundError as e:  # refused before it began: authority lost since fly() looked
            self.inbox.put(runner.Entry(time.time(), "END", None, "not flown: %s" % e))

    def ask(self, question):
        """The runner's operator (on the run's thread): the question goes to the UI thread."""
        self.inbox.put(question)

    def action_stop(self):
        if not self.flying():
            self._hint("no procedure is flying", "bold yellow")
            return
        self.runner.stop()
        self._hint("stopping %s: the step waiting ends, then its on-abort steps make the payload safe"
                   % self.runner.proc.name, "bold yellow")

    def answer(self, text):
        """The operator's answer to the question asked, or a procedure to fly."""
        if self.question is not None:
            question, self.question = self.question, None
            question.answer(text)
            self._hint("")
        elif text:
            self.fly(text.split())
            self._hint("")

    # --- from the inbox (the console's refresh, on the UI thread) ------------------------------

    def receive(self, item):
        """An Entry or a Question of the run."""
        if isinstance(item, runner.Question):
            self.question = item
        else:
            self.entries.append(item)

    def update(self):
        """Draw what came since the last update (nothing until the screen has been shown once)."""
        if self.question is not None and self.question.done.is_set():
            self.question = None  # answered elsewhere, or withdrawn: an abort-on ended the wait
            self._hint("")
        if not self._mounted:
            return
        for entry in self.entries[self._drawn:]:
            self._draw(entry)
        self._drawn = len(self.entries)
        if self.question is not None and self.question is not self._asked:
            self._asked = self.question
            self._hint(self.question.prompt, "bold white on dark_red" if self.question.expected else
                       "bold black on yellow")

    def _draw(self, entry):
        table = self.query_one("#proc-steps", DataTable)
        self.query_one("#proc-log", RichLog).write(Text(str(entry), _KIND_STYLE.get(entry.kind, "")))
        if entry.kind == "PLAN":
            key = table.add_row(entry.line or "", "", entry.text)
            if entry.line:
                self._rows[entry.line] = key
        elif entry.kind == "STEP" and entry.line in self._rows:
            table.update_cell(self._rows[entry.line], "verdict", Text("running", "bold"))
            table.move_cursor(row=table.get_row_index(self._rows[entry.line]))
        elif entry.kind in _VERDICTS and entry.line in self._rows:
            table.update_cell(self._rows[entry.line], "verdict",
                              Text("%s %s" % (entry.kind, entry.text), _KIND_STYLE[entry.kind]))
        if entry.kind in ("STEP", "END"):
            self._status(entry)
        if entry.kind == "END":
            self.remove_class("-flying")

    def _status(self, entry=None):
        if self.runner is None:
            text = Text("no procedure flown yet: choose one (Enter puts it on the line), give its params, Enter")
        elif entry is not None and entry.kind == "END":
            ended = entry.text.split(" ", 1)[0].rstrip(":")
            text = Text("%s %s" % (self.runner.proc.name, entry.text), _ENDED_STYLE.get(ended, "bold white on red"))
        else:
            text = Text("%s RUNNING%s" % (self.runner.proc.name, " line %d" % entry.line if entry and entry.line
                                          else ""), "bold black on yellow")
        self.query_one("#proc-status", Static).update(text)

    # --- from the operator ---------------------------------------------------------------------

    def _hint(self, text, style=""):
        if self._mounted:
            self.query_one("#proc-hint", Static).update(Text(text, style))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected):
        line = self.query_one("#proc-input", Input)
        line.value = str(event.option.prompt).split(" ", 1)[0] + " "
        line.cursor_position = len(line.value)
        line.focus()
        self._hint("usage: %s" % event.option.prompt)

    def on_input_submitted(self, event: Input.Submitted):
        text = event.value.strip()
        event.input.value = ""
        try:
            self.answer(text)
        except GroundError as e:
            self._hint(str(e), "bold red")
