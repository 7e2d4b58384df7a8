"""The ground client library: what the CLI, the console and the HIL keywords use.

::

    from ground.client import Client

    with Client("socket://127.0.0.1:5555") as c:       # LinkError if the port cannot open
                                                      # (or "ground://127.0.0.1:7010": through the server)
        v = c.send("PING")                            # waits for COMPLETED
        v = c.send("FIRE", 2, confirm=True)           # hazardous: confirm=True or UsageError
        v = c.send("FIRE_SEQUENCE", [1, 2], 0, confirm=True)  # slots as a list (or "1,2" as typed)
        v = c.send("ARM", check=False)                # returns the record instead of raising
        print(v.status, v.reason, [s.name for s in v.stages])
        ev = c.await_event("RELEASED", since=v.mark, slot=2, timeout=30)
        hk = c.await_hk(state="SAFE", timeout=10)     # raw ints or rendered names both match
        c.latest_hk.values["slot2"]

``send`` raises ``CommandFailed`` (the payload refused or failed it; ``reason``
in words), ``VerificationTimeout`` (no report within ``timeout`` s since the
last stage: outcome unknown) or ``LinkError`` (the link was down at every
attempt: never sent); each carries ``.verification``. ``check=False``
returns the ``Verification`` in every case. ``submit`` is the non-blocking form.

Retries never execute a command twice: a retry resends the same bytes (same
sequence count, so the same PUS request id), led by a frame delimiter that ends
any torn frame a loss left in the payload's deframer, and the firmware dedupes
by request id. A command is resent after ``timeout`` s without any report, whatever came
before: a lost telecommand runs then, and a command whose reports were lost (its
completion, say) is answered DUPLICATE with its recorded outcome, which is then
the verdict (``already_executed`` is set); ``retries`` bounds the resends. A
DUPLICATE with outcome EXECUTING means "in progress": the client goes on
waiting for the command's own completion report (asking again after another
``timeout`` s while resends are left). A DUPLICATE to the first attempt, before any
report of this command, is either the link repeating it (its own reports are on
the way and decide) or an earlier command that used the same request id: if no
report of its own comes, the command ends TIMEOUT, outcome unknown, saying so.
The 14-bit sequence count persists in ``seq_file`` so that a new ground session
does not reuse a request id the payload remembers (``SEQ_BLOCK`` counts reserved by
one write, so that a command seldom waits for the file: ``Client._next_seq``). A
session whose count is behind the payload's window gets STALE on a first attempt (it
did not run): the command is sent again, once, after the payload's newest count. STALE
to a resend means the payload no longer remembers the outcome: TIMEOUT, outcome unknown.
All of this is about DUPLICATE and STALE at acceptance, which concern the command's
own request id; at the start of a SCHED_INSERT they concern its nested command (it
ran, may have, or waits in the schedule: firmware/verification.py) and fail the
SCHED_INSERT like any other code.

Given a ground server's URL (``ground://HOST:PORT``), ``Client`` is a
``ground.remote.ServerClient``: the same API, but the server owns the link, the
sequence count, the retries and this verification logic (it runs a Client of its
own on the link); commanding needs command authority (``take``).
"""

import collections
import getpass
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, replace

from firmware import dictionary as d
from ground import auth, codec, hazard, protocol
from ground.errors import CommandFailed, GroundError, LinkError, UsageError, VerificationTimeout
from ground.link import Link

DEFAULT_TIMEOUT = 30.0  # s without a new verification stage: suits 2-10 s one-way latency
DEFAULT_RETRIES = 2  # resends, each after DEFAULT_TIMEOUT s without a report
HISTORY = 10000  # telemetry records kept for the await_* helpers
SEQ_BLOCK = 64  # TC sequence counts reserved by one write of the sequence file

PENDING = "PENDING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
TIMEOUT = "TIMEOUT"
NOT_SENT = "NOT_SENT"  # the link was down at every attempt: the payload never saw it
# Failures that end a command. PROGRESS_FAILED does not: a burn the switch did not confirm
# is followed by a retry, and the command ends with COMPLETED or COMPLETION_FAILED.
_FAILURE_STAGES = ("ACCEPT_FAILED", "START_FAILED", "COMPLETION_FAILED")


@dataclass(frozen=True)
class Stage:
    """One PUS 1 report about a command, with its ground receive time."""

    name: str  # ACCEPTED, STARTED, PROGRESS, COMPLETED, or one of the *_FAILED
    t: float
    step: int | None = None
    code: int | None = None
    data: int | None = None

    def __str__(self):
        text = self.name + (" step %d" % self.step if self.step is not None else "")
        return text + (" " + codec.failure_text(self.code) if self.code else "")


class Verification:
    """A sent command and what the payload said about it, as it arrives."""

    def __init__(self, command, mark, timeout, retries, on_stage, on_finish=None, owner=None, approver=None):
        self.command = command
        self.mark = mark  # telemetry position when sent: since= for the await_* helpers
        self.timeout = timeout
        self.retries = retries
        self.stages = []
        self.status = PENDING
        self.reason = ""
        self.attempts = 0
        self.already_executed = False
        self.resequenced = False  # refused STALE at once, so sent again under a new count
        self.own = False  # a report of this command's own execution came (or an EXECUTING answer)
        self.unclaimed = None  # a DUPLICATE or STALE answer that may not be about this command
        self.sent_at = None
        self.done = threading.Event()
        self.owner = owner  # the server's client that sent it (None: this process, alone on the link)
        self.approver = approver  # its second person (two-person rule)
        self.held = None  # the approval number while the server waits for the second person
        self._on_stage = on_stage
        self._on_finish = on_finish or (lambda v: None)

    @property
    def request_id(self):
        return self.command.request_id

    @property
    def ok(self):
        return self.status == COMPLETED

    def stage(self, name):
        """The first stage called ``name``, or None."""
        return next((s for s in self.stages if s.name == name), None)

    def wait(self, timeout=None):
        """Block until COMPLETED, FAILED or TIMEOUT (or ``timeout`` s); True if finished."""
        return self.done.wait(timeout)

    def __str__(self):
        return "%s [0x%08X] %s%s" % (self.command, self.request_id, self.status,
                                     ": " + self.reason if self.reason else "")

    def _add(self, stage):
        self.stages.append(stage)
        self._on_stage(self, stage)  # first: whoever waits for the end has seen every stage reported
        if self.status == PENDING:
            self._judge(stage)

    def _judge(self, stage):
        code = stage.code
        repeat = _about_this_id(stage)
        if stage.name == "COMPLETED":
            self._finish(COMPLETED, "")
        elif repeat and code == d.DUPLICATE and stage.data == d.EXECUTING:
            self.own = True  # it runs now (a repeat met it): its own completion report follows
        elif repeat and code == d.DUPLICATE and (self.own or self.attempts > 1):
            self._duplicate(stage.data)
        elif repeat and (code == d.DUPLICATE or (code == d.STALE and self.attempts > 1)):
            self.unclaimed = stage  # decided when the reports stop: this command's own may still come
        elif stage.name in _FAILURE_STAGES:
            self._finish(FAILED, "%s %s" % (stage.name, codec.failure_text(code)))
        else:
            self.own = True
            if self.unclaimed is not None and self.unclaimed.code == d.DUPLICATE:
                self._duplicate(self.unclaimed.data)  # the DUPLICATE was a repeat of this very command

    def _duplicate(self, outcome):
        if outcome == 0:
            self.already_executed = True
            self._finish(COMPLETED, "already executed (a repeat was answered DUPLICATE, recorded outcome success)")
        else:
            self._finish(FAILED, "already executed, and it failed: %s" % codec.failure_text(outcome))

    def _finish(self, status, reason):
        if self.attempts > 1 and status in (COMPLETED, FAILED):  # the payload answered, but not the first time
            resent = "sent %d times (resent after %g s without a report)" % (self.attempts, self.timeout)
            reason = "%s; %s" % (reason, resent) if reason else resent
        self.status = status
        self.reason = reason
        try:
            self._on_finish(self)  # first: a ground server's clients hear of it before a waiter woken takes the GIL
        finally:
            self.done.set()


def _about_this_id(stage):
    """True for a DUPLICATE or STALE about this command's own request id: refused at acceptance.
    At the start of a SCHED_INSERT they are about its nested command, and a plain failure."""
    return stage.name == "ACCEPT_FAILED" and stage.code in (d.DUPLICATE, d.STALE)


def _outcome(code):
    return "success" if code == 0 else codec.failure_text(code)


def _unclaimed(v):
    """Why an answer that did not name this command's own execution leaves its outcome unknown."""
    stage = v.unclaimed
    if stage.code == d.STALE:
        return ("outcome unknown: the payload no longer remembers request id 0x%08X (a resend was refused STALE); "
                "check telemetry" % v.request_id)
    return ("outcome unknown: request id 0x%08X is recorded with outcome %s, but no report of this command came: "
            "either the link repeated it and lost its reports, or an earlier command used the same id; "
            "check telemetry" % (v.request_id, _outcome(stage.data)))


class Match:
    """A telemetry predicate whose ``str`` says what was awaited (in timeout messages).

    ``name``: TM name (HK, PONG...); ``event``: an event name, or True for any event;
    ``fields``: values that must match, raw or as rendered (``state="ARMED"``).
    """

    def __init__(self, name=None, event=None, predicate=None, **fields):
        self.name, self.event, self.predicate, self.fields = name, event, predicate, fields

    def __call__(self, rec):
        if self.name and rec.name != self.name:
            return False
        if self.event and (rec.event is None or (self.event is not True and rec.event != self.event)):
            return False
        text = {n: t for n, t, _bad in rec.rendered()}
        for k, want in self.fields.items():
            if k not in rec.values or (rec.values[k] != want and text[k] != str(want)):
                return False
        return self.predicate is None or bool(self.predicate(rec))

    def __str__(self):
        event = self.event and ("EVENT" if self.event is True else "EVENT " + self.event)
        what = " ".join(x for x in (self.name, event) if x) or "telemetry"
        extra = ["%s=%s" % kv for kv in self.fields.items()]
        extra += [getattr(self.predicate, "__name__", "predicate")] if self.predicate else []
        return what + (" with " + ", ".join(extra) if extra else "")


class Client:
    """A link to the payload with command verification and telemetry helpers.

    ``archive``: an ``archive.Archive`` that gets every TM and TC, in a session of its
    own. ``on_record(rec)`` and ``on_state(state)`` run on the link's reader (the console
    forwards them); ``on_stage(verification, stage)`` likewise for every verification
    report, and ``on_finish(verification)`` when a command ends (whatever ended it; before its ``wait`` returns).
    ``loop``: an asyncio loop that reads the link instead of a thread (ground.link).
    """

    def __new__(cls, url, *args, **kw):
        if cls is Client and protocol.is_server_url(url):
            from ground.remote import ServerClient  # it is a Client: imported here, not at the top

            return super().__new__(ServerClient)
        return super().__new__(cls)

    def __init__(self, url, *, baudrate=115200, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES,
                 archive=None, seq_file=None, on_record=None, on_state=None, on_stage=None, on_finish=None,
                 name=None, token=None, signer=None, loop=None):
        self._setup(name, timeout, retries, archive, on_record, on_stage, on_finish)
        self._seq_file = seq_file
        # whatever assigns sequence counts signs: a tool's own link keeps its state beside its sequence count
        self._signer = signer or (auth.default_signer(os.path.dirname(seq_file)) if seq_file else None)
        self._seq = _load_seq(seq_file)
        self._reserved = self._seq  # the file's count: this one and those after it are not reserved yet
        if archive:
            archive.start_session(url)
        try:
            self.link = Link(url, self._packet, self._logged(url, on_state), baudrate, loop).open()
        except GroundError:
            if archive:
                archive.end_session()
            raise

    def _setup(self, name, timeout, retries, archive, on_record, on_stage, on_finish):
        """What every Client has, on a link or through a server."""
        self.name = name or default_name()  # archived with the commands it sends
        self.approvals = {}  # commands waiting for a second person, by number (a server's)
        self.notices = []  # (ground time, text): what the server told every client (a server's)
        self.timeout = timeout
        self.retries = retries
        self.archive = archive
        self.latest_hk = None
        self._pending = {}  # request id -> Verification
        self._history = collections.deque(maxlen=HISTORY)
        self._received = 0  # records ever received: positions for since=
        self._event_cursor = 0
        self._cond = threading.Condition()
        self._on_record = on_record or (lambda rec: None)
        self._on_stage = on_stage or (lambda v, stage: None)
        self._on_finish = on_finish or (lambda v: None)
        self.malformed = 0  # the payload's packets whose data did not fit their layout
        self.bad_time = 0  # the payload's packets with a time no clock can give

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.link.close()
        if self.archive:
            self.archive.end_session()

    def _logged(self, url, on_state):
        """``on_state``, after a line in the archive's log."""
        def changed(state):
            if self.archive:
                self.archive.log(time.time(), "LINK", "link to %s %s" % (url, state))
            if on_state:
                on_state(state)
        return changed

    # --- command authority: a server's; alone on a link, this client holds it -----------

    @property
    def authority(self):
        """The name of the client that holds command authority."""
        return self.name

    def take(self, force=False):
        """Take command authority (a server's: alone on a link this client always holds it)."""

    def release(self):
        """Give command authority up (a server's)."""

    def approve(self, number):
        """Approve a command another client sent (a server's two-person rule)."""
        raise UsageError("approvals are a ground server's (ground serve --two-person): this client is alone on %s"
                         % self.link.url)

    def withdraw(self, v):
        """Take back a command held for its second person (a server's two-person rule)."""
        raise UsageError("only a ground server holds commands for approval: this client is alone on %s" % self.link.url)

    # --- the archive -------------------------------------------------------------------

    unlogged = 0  # lines given to log() not archived yet: a server's (alone, the archive counts its own errors)

    def log(self, lines):
        """Archive ``lines`` ((ground time, kind, text); kind PROCEDURE) in this client's session,
        under its name (without an archive: nowhere). Through a server: in the server's archive."""
        if self.archive:
            for t, kind, text in lines:
                self.archive.log(t, kind, text, self.name)

    # --- commanding ------------------------------------------------------------------

    def build(self, name, *args):
        """The Telecommand for ``name`` and ``args`` (UsageError if wrong), with fresh sequence counts."""
        return codec.build(name, args, self._next_seq)

    def submit(self, name, *args, confirm=False, timeout=None, retries=None, owner=None, approver=None):
        """Send a command and return its Verification at once; a thread drives retries.

        ``owner`` and ``approver``: who sent it and who approved it, archived with it (the server's clients).
        """
        tc = self._signed(self.telecommand(name, args, confirm))
        v = Verification(tc, self.position(), self.timeout if timeout is None else timeout,
                         self.retries if retries is None else retries, self._on_stage, self._on_finish,
                         owner or self.name, approver)
        with self._cond:
            self._pending[tc.request_id] = v
        written = self._attempt(v)  # from this thread: the command leaves before any thread hand-off
        threading.Thread(target=self._drive, args=(v, written), name="ground-verify", daemon=True).start()
        return v

    def telecommand(self, name, args, confirm):
        """The Telecommand to send (built from ``name`` and ``args``); UsageError if hazardous and not confirmed."""
        tc = name if isinstance(name, codec.Telecommand) else self.build(name, *args)
        if tc.hazardous and not confirm:
            raise UsageError("%s (hazardous: confirm=True sends it, --yes on the command line)"
                             % hazard.confirmation(tc).text)
        return tc

    def send(self, name, *args, confirm=False, timeout=None, retries=None, check=True):
        """Send a command and wait until it completes, fails or times out (see the module doc)."""
        v = self.submit(name, *args, confirm=confirm, timeout=timeout, retries=retries)
        v.wait()
        if check and v.status == FAILED:
            raise _with(CommandFailed("%s failed: %s" % (v.command, v.reason)), v)
        if check and v.status == TIMEOUT:
            raise _with(VerificationTimeout("%s: %s" % (v.command, v.reason)), v)
        if check and v.status == NOT_SENT:
            raise _with(LinkError("%s not sent: %s" % (v.command, v.reason)), v)
        return v

    def _drive(self, v, written):
        """After the first attempt (``written``: True if it left), resend the same packet after
        ``timeout`` s without a report, up to ``retries`` times (see the module doc)."""
        while not (self._await_stages(v) or v.unclaimed):  # a resend would only get the same answer
            if v.attempts > v.retries:
                break
            written += self._attempt(v)
        with self._cond:
            self._pending.pop(v.request_id, None)
        attempts = "%d attempt%s" % (v.attempts, "" if v.attempts == 1 else "s")
        if not v.done.is_set() and not written:
            v._finish(NOT_SENT, "%s (%s)" % (v.reason, attempts))
        if not v.done.is_set() and v.unclaimed:
            v._finish(TIMEOUT, _unclaimed(v))
        if not v.done.is_set():
            last = v.stages[-1].name if v.stages else "sending (%s)" % attempts
            v._finish(TIMEOUT, "no report for %g s after %s: outcome unknown, check telemetry" % (v.timeout, last))

    def _attempt(self, v):
        """Send ``v`` once more; True if it left (else ``v.reason`` says why not)."""
        v.attempts += 1
        v.sent_at = time.time()
        try:
            self._write(v, v.sent_at)
        except LinkError as e:
            v.reason = str(e)
            return False
        return True

    def _write(self, v, t):
        """Send ``v``'s packet (LinkError if the link is down) and archive it as sent at ``t``."""
        self.link.write(v.command.packet, resync=v.attempts > 1)
        if self.archive:
            self.archive.store(v.command.packet, t, "TC", v.owner, v.approver)

    def _await_stages(self, v):
        """Wait while stages keep coming; True once finished, False after ``timeout`` s of silence."""
        while True:
            seen = len(v.stages)
            if v.done.wait(v.timeout):
                return True
            if len(v.stages) == seen:
                return False

    def _signed(self, tc):
        """``tc`` with its authentication trailer, when this client signs (ground.auth)."""
        return replace(tc, packet=self._signer.sign(tc.packet)) if self._signer else tc

    def _next_seq(self):
        """The next TC sequence count. The sequence file always holds a count past every one handed
        out: when the block reserved runs out, the count ``SEQ_BLOCK`` further is written (replacing
        the file whole) before the first count of the new block is handed out. A process that dies
        at any moment leaves a file from which the next session goes on without reusing a count; it
        skips at most ``SEQ_BLOCK`` unused ones, and a jump ahead that short is still newer to the
        payload (firmware/state.py: up to half the 14-bit space ahead), never refused STALE for it."""
        with self._cond:
            seq, self._seq = self._seq, (self._seq + 1) & 0x3FFF
            if seq == self._reserved:
                self._reserved = (seq + SEQ_BLOCK) & 0x3FFF
                _store_seq(self._seq_file, self._reserved)
        return seq

    # --- telemetry -------------------------------------------------------------------

    def _packet(self, raw, t):
        if self.archive:
            self.archive.store(raw, t, "TM")
        rec = codec.decode(raw, t)
        if rec is None:
            return
        if not rec.foreign:  # only the link's own decoder counts (a server's clients are told its counts)
            self.malformed += rec.error is not None
            self.bad_time += rec.time_error is not None
        v = self._keep(rec)
        if v is not None:
            stage = Stage(rec.name, t, rec.values.get("step"), rec.values.get("code"), rec.values.get("data"))
            behind = (_about_this_id(stage) and stage.code == d.STALE
                      or stage.name == "ACCEPT_FAILED" and stage.code == d.AUTH_REPLAY and self._signer)
            if behind and v.attempts == 1 and not v.resequenced:
                self._resequence(v, stage)
            else:
                v._add(stage)
        self._on_record(rec)

    def _keep(self, rec):
        """Add a record to the history (and to latest_hk); the pending Verification it reports on, if any."""
        ours = not rec.foreign  # another APID's report never completes a command nor passes for HK
        with self._cond:
            rec.position = self._received
            self._history.append(rec)
            self._received += 1
            if ours and rec.name == "HK" and not rec.error:
                self.latest_hk = rec
            self._cond.notify_all()
            return self._pending.get(rec.request_id) if ours and rec.service == 1 and not rec.error else None

    def _resequence(self, v, stage):
        """A first attempt refused STALE or AUTH_REPLAY never ran: our sequence count is behind the
        payload's (a new ground session), or our signing counter is (the payload's lease after a
        power loss, ground/auth.py). Send the command again after the newest count the payload
        accepted, or signed a lease further on."""
        v.resequenced = True
        v.stages.append(stage)
        v._on_stage(v, stage)
        with self._cond:
            self._pending.pop(v.request_id, None)
            if stage.code == d.STALE:
                self._seq = self._reserved = (stage.data + 1) & 0x3FFF  # reserved anew from there
            else:
                self._signer.skip()
            v.command = self._signed(codec.renumber(v.command, self._next_seq))
            self._pending[v.request_id] = v
        try:
            self._write(v, time.time())  # a lost write is resent by the driver's retries
        except LinkError:
            pass

    def counters(self):
        """The link's counters (ground.link) and the decoder's: ``malformed``, ``bad_time``
        (through a ground server: the server's, and ``dropped``, see ground.remote)."""
        return dict(self.link.counters(), malformed=self.malformed, bad_time=self.bad_time)

    def position(self):
        """How many telemetry records have arrived: a ``since`` for the await_* helpers."""
        with self._cond:
            return self._received

    def records(self, since=0):
        """The records kept that arrived at or after position ``since``."""
        with self._cond:
            return self._since(since)

    def await_record(self, match, timeout=None, since=None):
        """The first record from position ``since`` (default: now) for which ``match(rec)``.

        Raises VerificationTimeout naming what was awaited after ``timeout`` s.
        """
        timeout = self.timeout if timeout is None else timeout
        pos = self.position() if since is None else since
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for rec in self._since(pos):
                    if match(rec):
                        return rec
                pos = self._received
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VerificationTimeout("no %s within %g s" % (match, timeout))
                self._cond.wait(left)

    def _since(self, pos):
        first = self._received - len(self._history)
        return list(self._history)[max(pos - first, 0):]

    def await_event(self, event=None, timeout=None, since=None, **fields):
        """The next event (named ``event``, with those field values) from ``since``."""
        return self.await_record(Match(event=event or True, **fields), timeout, since)

    def await_hk(self, predicate=None, timeout=None, since=None, **fields):
        """The next HK report (matching ``predicate`` and field values) from ``since``."""
        return self.await_record(Match("HK", predicate=predicate, **fields), timeout, since)

    def next_event(self, timeout=None):
        """Events one by one, in order, each returned once (VerificationTimeout if none comes)."""
        rec = self.await_record(Match(event=True), timeout, self._event_cursor)
        self._event_cursor = rec.position + 1
        return rec


def counters_text(c):
    """Every counter of ``Client.counters()`` in words, for ``monitor``, ``record`` and the console."""
    text = ("%(rx_packets)d packets; frames dropped: %(crc_errors)d bad CRC, %(oversize)d oversize, "
            "%(undecodable)d undecodable; %(foreign)d foreign (another APID); %(malformed)d malformed, "
            "%(bad_time)d impossible time; TM gaps %(tm_gaps)d (%(tm_lost)d lost), %(tm_repeated)d repeated, "
            "%(tm_back)d stepped back; %(reconnects)d reconnects" % c)
    if "dropped" in c:  # through a ground server: what it did not pass on to this client
        text += "; %(dropped)d messages the server dropped for this client" % c
    return text


def _with(error, verification):
    error.verification = verification
    return error


def default_name(tool="ground"):
    """Who this client is, for the archive and the other clients: ``console alice@desk``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "uid%d" % os.getuid()
    return "%s %s@%s" % (tool, user, socket.gethostname())


def default_seq_file():
    """Where the CLI and console keep the next TC sequence count ($XDG_STATE_HOME); None if unwritable."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    folder = os.path.join(base, "payload-ground")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return os.path.join(folder, "tc_seq")


def _load_seq(path):
    """The next TC sequence count saved by an earlier session, else a random one."""
    try:
        with open(path) as f:
            return int(f.read().strip()) & 0x3FFF
    except (TypeError, OSError, ValueError):
        return secrets.randbelow(0x4000)


def _store_seq(path, seq):
    if path is None:
        return
    try:
        tmp = "%s.tmp" % path
        with open(tmp, "w") as f:
            f.write("%d\n" % seq)
        os.replace(tmp, path)
    except OSError as e:
        raise GroundError("cannot save the TC sequence count to %s: %s" % (path, e))
