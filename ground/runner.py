"""Flying a procedure (ground/procedure.py) over a Client: ``ground proc run``, the console, the HIL.

The Runner flies one step at a time on the caller's thread. While a step waits (a
command's verification, an expect, a wait, an operator's answer) it looks at the
telemetry every ``POLL`` s, and checks each new record against every abort-on in
force: an inhibit that drops stops the procedure even while a person thinks.

What it does is a list of ``Entry``: the header and the step list, then each step
as it starts, every verification stage, question, answer and result, each link
change, and the end. Each entry goes to the archive through the client
(``Client.log``: the client's own session on a link, the server's archive through a
server), with the run's id and the procedure's name, hash and text in the first,
and then, in order, to every sink: the CLI prints it, the console shows it, the
HIL keywords play the satellites from it. ``replay`` reads a run back from an
archive file or a server as the same entries, so it prints the same lines.

A run needs command authority (a server's; alone on a link the client holds it):
``run`` refuses to start without it, and losing it mid-run (another operator took it
over, the connection to the server dropped) stops the run. Under a server's
two-person rule a hazardous command is held until a second person approves it; the
step's time limit starts once it is sent, and a run that stops meanwhile withdraws it.

Outcomes: PASSED; FAILED (a step did not do what it says: a command failed or its
outcome is unknown, an expectation did not come); ABORTED (an abort-on held, or an
abort step); NO-GO (the operator said no at a confirm, or did not type a hazardous
command's answer); INTERRUPTED (Ctrl-C). Every outcome but PASSED runs the
on-abort steps, unattended: no abort-on and no question stops them.

How an ``expect`` or an ``if`` looks at the telemetry: an event or a report (PONG,
PARAM, ...) is looked for among everything received since the last command was
sent; a HK condition is judged on the latest HK report received since then, or on
later ones (``if``: the latest one only, waiting ``REPORT_WAIT`` for one if none came).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass

from firmware import dictionary as d
from ground import hazard, procedure
from ground.client import FAILED as V_FAILED
from ground.client import NOT_SENT
from ground.errors import AuthorityError, GroundError, LinkError, UsageError
from ground.link import UP
from ground.procedure import Abort, AbortOn, Confirm, Expect, If, Send, Wait

POLL = 0.05  # s between two looks at the telemetry while a step waits
REPORT_WAIT = 5.0  # s an ``if`` on HK, or a failed command under abort-ons, waits for a HK report
GO = "GO"
PASSED = "PASSED"
FAILED = "FAILED"
ABORTED = "ABORTED"
NO_GO = "NO-GO"
INTERRUPTED = "INTERRUPTED"
# The entry that says why a run stopped, by outcome.
_STOP_ENTRY = {FAILED: "FAIL", ABORTED: "ABORT", NO_GO: "NO-GO", INTERRUPTED: "ABORT"}
_ENDING_STAGES = ("ACCEPT_FAILED", "START_FAILED", "COMPLETION_FAILED")
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SIM_START = 20.0  # s for a fresh simulated board to print its link and answer a PING


@dataclass
class Entry:
    """One line of a run: ``kind`` is PROC, PLAN, STEP, HELD, SENT, STAGE, ASK, ANSWER, OK, FAIL, NO-GO,
    ABORT, LINK or END; ``line`` the procedure line it is about."""

    t: float  # ground time, s since the Unix epoch
    kind: str
    line: int | None
    text: str
    ref: object = None  # this process only: the Verification of SENT, (Verification, Stage) of STAGE,
    #                    the Question of ASK

    def __str__(self):
        clock = time.strftime("%H:%M:%S", time.gmtime(self.t)) + ".%d" % (self.t * 10 % 10)
        return "%s %4s %-6s %s" % (clock, self.line or "", self.kind, self.text)


@dataclass(frozen=True)
class Outcome:
    status: str
    line: int | None  # where it stopped
    reason: str
    safe: bool | None = None  # the on-abort steps completed (None: none ran)

    def __str__(self):
        text = self.status + (" at line %d" % self.line if self.line else "") + ": " + self.reason
        if self.safe is not None:
            text += "; on-abort %s" % ("completed" if self.safe else "did NOT complete")
        return text


class Question:
    """What the runner asks the operator: a go/no-go (``expected`` None), or the typed answer that
    sends a hazardous command. The operator's tool calls ``answer`` from any thread."""

    def __init__(self, text, expected=None):
        self.text = text
        self.expected = expected
        self.reply = None
        self.done = threading.Event()

    @property
    def prompt(self):
        if self.expected is None:
            return "%s  [type GO, anything else is NO-GO]" % self.text
        return "%s. Type %s to send it, anything else is NO-GO" % (self.text, self.expected)

    def answer(self, reply):
        """The operator's reply (None: none will come); the first answer counts."""
        if not self.done.is_set():
            self.reply = reply
            self.done.set()


class ScriptedOperator:
    """Answers from a list, in order ("GO", "NO-GO", what is typed); once none is left, ``rest``
    (None: no answer)."""

    def __init__(self, answers=(), rest=None):
        self.answers = list(answers)
        self.rest = rest
        self.asked = []

    def ask(self, question):
        self.asked.append(question)
        question.answer(self.answers.pop(0) if self.answers else self.rest)


class TerminalOperator:
    """Answers typed on standard input, a line each; a line typed while nothing is asked answers nothing."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._current = None
        self._reader = None
        self._ended = False

    def ask(self, question):
        self._current = question
        if self._ended:
            question.answer(None)
        elif self._reader is None:
            self._reader = threading.Thread(target=self._read, name="proc-operator", daemon=True)
            self._reader.start()

    def _read(self):
        for line in self.stream:
            if self._current is not None:
                self._current.answer(line.strip())
        self._ended = True
        if self._current is not None:
            self._current.answer(None)


class _Stop(Exception):
    """The run stops here: ``status`` (FAILED, ABORTED, NO-GO, INTERRUPTED) at ``line``, because ``reason``."""

    def __init__(self, status, line, reason):
        super().__init__(reason)
        self.status, self.line, self.reason = status, line, reason


class Runner:
    """Flies ``proc`` (a parsed Procedure) over ``client``; ``operator`` answers its questions.

    ``yes``: hazardous commands were confirmed at launch (recorded), none is asked for.
    ``sinks``: callables given every Entry (the run is recorded by ``client.log``);
    ``about``: more to record in the header (the link, a dry run).
    """

    def __init__(self, proc, client, operator, *, yes=False, sinks=(), about=None):
        self.proc = proc
        self.client = client
        self.operator = operator
        self.yes = yes
        self.sinks = list(sinks)
        self.about = dict(about or {})
        self.run_id = uuid.uuid4().hex[:12]
        self.entries = []
        self._line = None  # the step running
        self._mark = 0  # telemetry position when the last command was sent
        self._seen = 0  # telemetry position the abort-on checks have reached
        self._aborts = []  # (AbortOn step, the position from which it holds)
        self._following = []  # [Verification, its step's line, stages shown] of each command not yet ended
        self._link = None
        self._down_at = None  # monotonic time the link went down
        self._step_down = 0.0  # s the link has been down during this step
        self._stop = threading.Event()  # stop() was called
        self._cleaning = False  # the on-abort steps are running: nothing stops them

    def stop(self):
        """Stop the run from another thread (the console's stop key), as Ctrl-C does in the CLI:
        the step waiting ends, the on-abort steps run."""
        self._stop.set()

    def run(self):
        """Fly every step; the Outcome (the on-abort steps have run unless PASSED). AuthorityError,
        before anything is recorded, if the client does not hold command authority."""
        if self.client.authority != self.client.name:
            raise AuthorityError("%s does not hold command authority on %s (%s holds it)" % (
                self.client.name, self.client.link.url, self.client.authority or "nobody"))
        self._header()
        self._mark = self._seen = self.client.position()
        self._link = self.client.link.state
        try:
            self._block(self.proc.steps)
        except _Stop as stop:
            return self._stopped(stop)
        except KeyboardInterrupt:
            return self._stopped(_Stop(INTERRUPTED, self._line, "interrupted by the operator (Ctrl-C)"))
        except GroundError as e:  # the link or the client gave up on the step
            return self._stopped(_Stop(FAILED, self._line, str(e)))
        return self._end(Outcome(PASSED, None, "every step done"))

    # --- the record ----------------------------------------------------------------------

    def emit(self, kind, line, text, ref=None):
        self._emit([(kind, line, text, ref)])

    def _emit(self, items):
        """Entries (kind, line, text, ref): recorded together, then each to every sink in order."""
        entries, rows = [], []
        for kind, line, text, ref in items:
            entry = Entry(time.time(), kind, line, text, ref)
            rows.append((entry.t, "PROCEDURE", json.dumps(self._doc(entry))))
            self.entries.append(entry)
            entries.append(entry)
        self.client.log(rows)
        for entry in entries:
            for sink in self.sinks:
                sink(entry)

    def _doc(self, entry):
        """An entry as recorded: numbered in its run (a line stored twice is one entry); the first
        holds what was flown, all of it."""
        doc = {"run": self.run_id, "n": len(self.entries), "kind": entry.kind, "line": entry.line, "text": entry.text}
        if not self.entries:
            doc.update(procedure=self.proc.name, sha256=self.proc.sha256, source=self.proc.text,
                       params=self.proc.values, yes=self.yes, about=self.about)
        return doc

    def _header(self):
        """Recorded at once: one message to a server, however long the step list."""
        p = self.proc
        texts = ["%s: %s" % (p.name, p.title), "sha256 %s" % p.sha256]
        if p.values:
            texts.append("params " + " ".join("%s=%s" % kv for kv in p.values.items()))
        texts.append("hazardous commands: " + (
            "confirmed by --yes given at launch" if self.yes else "each asks for its typed confirmation"))
        texts += ["%s %s" % kv for kv in self.about.items()]
        texts.append("run %s by %s" % (self.run_id, self.client.name))
        self._emit([("PROC", None, text, None) for text in texts] + [("PLAN", line, text, None)
                                                                      for line, text in p.plan()])

    def _end(self, outcome):
        self._stages()
        self.emit("END", outcome.line, str(outcome))
        return outcome

    def _stopped(self, stop):
        self.emit(_STOP_ENTRY[stop.status], stop.line, stop.reason)
        if not self.proc.on_abort:
            return self._end(Outcome(stop.status, stop.line, stop.reason))
        self._aborts = []  # nothing stops the steps that make the payload safe
        self._cleaning = True
        self.emit("ABORT", None, "on-abort: making the payload safe")
        try:
            self._block(self.proc.on_abort)
            safe = True
        except _Stop as failed:
            self.emit(_STOP_ENTRY[failed.status], failed.line, failed.reason)
            safe = False
        except GroundError as e:
            self.emit("FAIL", self._line, str(e))
            safe = False
        except KeyboardInterrupt:
            self.emit("ABORT", self._line, "on-abort interrupted by the operator (Ctrl-C)")
            safe = False
        return self._end(Outcome(stop.status, stop.line, stop.reason, safe))

    # --- steps -----------------------------------------------------------------------------

    def _block(self, steps):
        run = {Send: self._send, Expect: self._expect, Wait: self._wait, Confirm: self._confirm, If: self._if,
               Abort: self._abort, AbortOn: self._abort_on}
        for step in steps:
            self._line = step.line
            self._step_down = 0.0
            self.emit("STEP", step.line, step.source)
            run[type(step)](step)

    def _send(self, step):
        args = [procedure.fill(a, procedure.now_values(time.time())) for a in step.args]
        tc = self.client.build(step.command, *args)
        confirmation = hazard.confirmation(tc)
        if confirmation is not None:
            self._hazard(step, tc, confirmation)
        v = self.client.submit(tc, confirm=True, timeout=step.within)
        self._mark = v.mark
        if v.held is not None:
            self._approval(step, v)
        self._following.append([v, step.line, 0])
        self.emit("SENT", step.line, "%s [0x%08X]" % (v.command, v.request_id), v)  # the server's id, through one
        finished = self._watch(v.done.is_set, step.within)
        self._look()  # the stages that came with the last one
        if not finished:
            last = v.stages[-1].name if v.stages else "none"
            raise _Stop(FAILED, step.line, "%s not completed within %g s (last report: %s): outcome unknown, "
                                           "check telemetry%s" % (v.command, step.within, last, self._downtime()))
        self._verdict(step, v)

    def _approval(self, step, v):
        """Wait while a server holds ``v`` for a second person (abort-on watched); withdraw it if the run stops."""
        self.emit("HELD", step.line, "%s [0x%08X] waits for a second person's approval (number %d)" % (
            v.command, v.request_id, v.held))
        try:
            self._watch(lambda: v.held is None or v.done.is_set())
        except BaseException:  # a stop, Ctrl-C: it must not go out after the run has moved on
            try:
                self.client.withdraw(v)
                self.emit("HELD", step.line, "withdrawn: never sent")
            except GroundError as e:
                self.emit("HELD", step.line, "not withdrawn: %s" % e)
            raise
        if v.status == NOT_SENT:  # expired, or cancelled: not approved
            raise _Stop(FAILED, step.line, "%s %s" % (v.command, _status(v)))
        self.emit("HELD", step.line, "approved by %s" % v.approver)

    def _verdict(self, step, v):
        code = next((s.code for s in reversed(v.stages) if s.name in _ENDING_STAGES and s.code), None)
        failure = d.FAILURE_NAMES.text(code) if code else None
        took = "after %.1f s" % (v.stages[-1].t - v.sent_at) if v.stages else ""
        if step.fails and v.status == V_FAILED and failure == step.fails:
            self.emit("OK", step.line, "failed %s, as expected, %s" % (failure, took))
        elif step.fails:
            raise _Stop(FAILED, step.line, "%s should have failed %s: %s%s" % (
                v.command, step.fails, _status(v), self._downtime()))
        elif v.ok:
            self.emit("OK", step.line, "COMPLETED %s%s" % (took, " (already executed)" if v.already_executed else ""))
        else:
            self._failure_context()
            raise _Stop(FAILED, step.line, "%s %s%s" % (v.command, _status(v), self._downtime()))

    def _failure_context(self):
        """Before a failed command stops the run: watch the abort-ons until the next HK report.
        An inhibit that drops mid-command fails it first (the payload reports the command ABORTED,
        then ARM_LOST, in one loop); the run then stops ABORTED by the abort-on that explains it."""
        if self._aborts:
            self._await(lambda r: r.name == "HK" and not r.error, self.client.position(), REPORT_WAIT)

    def _hazard(self, step, tc, confirmation):
        if self.yes:
            self.emit("ANSWER", step.line, "HAZARDOUS %s: confirmed by --yes given at launch" % confirmation.text)
            return
        reply = self._ask(step, Question("HAZARDOUS " + confirmation.text, confirmation.answer))
        if reply is None or not confirmation.accepts(reply):
            raise _Stop(NO_GO, step.line, "%s not sent: %s" % (
                tc, "no answer" if reply is None else "%r does not confirm it" % reply))
        self.emit("ANSWER", step.line, "typed %r: confirmed" % reply)

    def _confirm(self, step):
        reply = self._ask(step, Question(step.text))
        if reply is None or reply.strip().upper() != GO:
            raise _Stop(NO_GO, step.line, "the operator answered %s" % ("nothing" if reply is None else repr(reply)))
        self.emit("ANSWER", step.line, GO)

    def _ask(self, step, question):
        self.operator.ask(question)  # first: an answer typed as soon as the question shows must find it asked
        self.emit("ASK", step.line, question.prompt, question)
        try:
            self._watch(question.done.is_set)
        finally:
            question.answer(None)  # an abort-on ended the wait: the question is withdrawn
        return question.reply

    def _expect(self, step):
        cond = step.condition
        start = time.monotonic()
        rec = self._await(cond, self._since(cond), step.within)
        if rec is None:
            raise _Stop(FAILED, step.line, "no %s within %g s%s%s" % (cond, step.within, self._latest(cond),
                                                                     self._downtime()))
        self.emit("OK", step.line, "%s after %.1f s" % (cond.shown(rec), time.monotonic() - start))

    def _if(self, step):
        cond = step.condition
        if cond.is_hk:
            rec = self._await(lambda r: r.name == "HK" and not r.error, self._since(cond), REPORT_WAIT)
            if rec is None:
                raise _Stop(FAILED, step.line, "no HK report within %g s to decide on%s" % (
                    REPORT_WAIT, self._downtime()))
            holds, shown = cond(rec), cond.shown(rec)
        else:
            rec = next((r for r in self.client.records(self._mark) if cond(r)), None)
            holds, shown = rec is not None, cond.shown(rec) if rec else "none since the last command"
        self.emit("OK", step.line, "%s: %s" % ("yes" if holds else "no", shown))
        self._block(step.body if holds else step.orelse)

    def _wait(self, step):
        self._watch(lambda: False, step.seconds)
        self.emit("OK", step.line, "waited %g s" % step.seconds)

    def _abort(self, step):
        raise _Stop(ABORTED, step.line, step.text)

    def _abort_on(self, step):
        self._aborts.append((step, self.client.position()))
        self.emit("OK", step.line, "in force from now on")

    # --- watching the telemetry --------------------------------------------------------------

    def _watch(self, done, seconds=None):
        """Look at the telemetry until ``done()`` or for ``seconds`` (None: no limit); True if done."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            self._look()
            if done():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    def _look(self):
        """Abort-on checks on every new record, new verification stages, link changes, stop(),
        command authority."""
        if self._stop.is_set() and not self._cleaning:
            raise _Stop(INTERRUPTED, self._line, "stopped by the operator")
        holder = self.client.authority
        if holder != self.client.name and not self._cleaning:
            raise _Stop(FAILED, self._line, "command authority lost: %s holds it now" % (holder or "nobody"))
        for rec in self.client.records(self._seen):
            self._seen = rec.position + 1
            for step, since in self._aborts:
                if rec.position >= since and step.condition(rec):
                    raise _Stop(ABORTED, step.line, "abort-on %s: %s" % (step.condition, step.condition.shown(rec)))
        self._stages()
        state = self.client.link.state
        if state != self._link:
            self._link = state
            if state == UP and self._down_at is not None:
                self._step_down += time.monotonic() - self._down_at
                self._down_at = None
            elif state != UP and self._down_at is None:
                self._down_at = time.monotonic()
            self.emit("LINK", self._line, "link %s" % state)

    def _stages(self):
        """Report the new verification stages of every command sent, until each has ended."""
        for following in list(self._following):
            v, line, shown = following
            ended = v.done.is_set()  # read first: a command's last stage is in before it is done
            new = v.stages[shown:]
            following[2] = shown + len(new)  # a stage that comes while these are shown is for the next look
            for stage in new:
                self.emit("STAGE", line, "%7.2f s %s" % (stage.t - v.sent_at, stage), (v, stage))
            if ended:
                self._following.remove(following)

    def _await(self, match, since, seconds):
        """The first record from position ``since`` on that ``match``es, within ``seconds``; or None."""
        found = []
        cursor = [since]

        def look():
            for rec in self.client.records(cursor[0]):
                cursor[0] = rec.position + 1
                if match(rec):
                    found.append(rec)
                    return True
            return False

        self._watch(look, seconds)
        return found[0] if found else None

    def _since(self, cond):
        """Where an expect or if starts looking: a HK condition at the latest HK since the last command."""
        if cond.is_hk:
            hks = [r.position for r in self.client.records(self._mark) if r.name == "HK" and not r.error]
            if hks:
                return hks[-1]
        return self._mark

    def _latest(self, cond):
        if cond.report is None:
            return ""
        last = [r for r in self.client.records(self._mark) if r.name == cond.report and not r.error]
        return "; last %s" % cond.shown(last[-1]) if last else "; none came"

    def _downtime(self):
        down = self._step_down + (time.monotonic() - self._down_at if self._down_at is not None else 0.0)
        return " (the link was down for %.1f s of this step)" % down if down else ""


def _status(v):
    return v.status + (": " + v.reason if v.reason else "")


# --- the archive --------------------------------------------------------------------------
# A run's entries are log rows of kind PROCEDURE, in the session of the client that flew it
# on a link (with its frames), or in the server's session through a server (with every
# frame of every client), each a JSON document: the run's id, the entry's number in the
# run, its kind, line and text; the first also holds what was flown (file name, SHA-256,
# text, params, --yes, the link). Runner._doc writes them, entry_doc reads them.

_ENTRY_KEYS = ("run", "n", "kind", "line", "text")


def entry_doc(text):
    """The entry a PROCEDURE row holds, or None for text that is not one (a server archives what clients send)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and all(k in doc for k in _ENTRY_KEYS) else None


def archived_records(source):
    """(row, doc) of every entry of every run in ``source`` (an Archive, or a Client of a server),
    in ground-time order; an entry stored twice (a resend to a server) once."""
    seen, out = set(), []
    for row in source.rows(kind="PROCEDURE"):
        doc = entry_doc(row.text)
        if doc is not None and (doc["run"], doc["n"]) not in seen:
            seen.add((doc["run"], doc["n"]))
            out.append((row, doc))
    return out


def runs(source):
    """The first entry of each run (its ``run``, ``procedure``, ``sha256`` ...) with ``t``, ``session``
    and ``end`` added."""
    found = {}
    for row, doc in archived_records(source):
        if doc["run"] not in found:
            found[doc["run"]] = dict(doc, t=row.t, session=row.session, end="(no end recorded)")
        if doc["kind"] == "END":
            found[doc["run"]]["end"] = doc["text"]
    return list(found.values())


def replay(source, run=None, name="the archive"):
    """(first entry, entries) of run ``run`` (None: the last one) in ``source`` (called ``name``);
    UsageError if there is none such."""
    records = archived_records(source)
    ids = list(dict.fromkeys(doc["run"] for _row, doc in records))
    if not ids or (run is not None and run not in ids):
        raise UsageError("%s has %s" % (name, "no procedure run" if not ids else "no run %s (runs: %s)"
                                        % (run, " ".join(ids))))
    run = ids[-1] if run is None else run
    mine = [(row, doc) for row, doc in records if doc["run"] == run]
    return mine[0][1], [Entry(row.t, doc["kind"], doc["line"], doc["text"]) for row, doc in mine]


# --- a board to rehearse on -----------------------------------------------------------------


@contextlib.contextmanager
def rehearsal_board():
    """A fresh simulated board (``python -m sim``, blank flash) answering PING: yields its link URL."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "sim"], cwd=_REPO, stdout=subprocess.PIPE, stderr=errors,
                                text=True)
        try:
            first = proc.stdout.readline()
            if not first.startswith("link: "):
                proc.wait(5)
                errors.seek(0)
                raise LinkError("the simulated board did not start: %s" % errors.read()[-2000:].strip())
            yield first.split(": ", 1)[1].strip()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the sim stops cleanly on Ctrl-C
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def await_payload(client, timeout=_SIM_START):
    """Return once the payload answers a PING (a board that is still booting loses what it is sent)."""
    deadline = time.monotonic() + timeout
    while not client.send("PING", timeout=0.5, retries=0, check=False).ok:
        if time.monotonic() > deadline:
            raise LinkError("the payload at %s did not answer PING within %g s" % (client.link.url, timeout))
