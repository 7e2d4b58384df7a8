"""PUS 1 verification and the exactly-once rule: the one owner of what becomes of a telecommand.

Services (firmware/services.py) finds and runs a telecommand from the link or the schedule;
the sequencer runs the burns of a FIRE or FIRE_SEQUENCE. Both report through here, and only
here is a request id judged, recorded and answered::

    authentic(...)    from the link, not signed as firmware/auth.py requires
                                                    -> ACCEPT_FAILED, AUTH_* (nothing recorded)
    check(tc)         request id recorded           -> DUPLICATE, data = its recorded outcome
                      from the link, count not new  -> STALE, data = the newest count accepted
                      signed, its counter not fresh -> AUTH_REPLAY
    refuse(tc, code)  at acceptance                 -> ACCEPT_FAILED, REFUSED (nothing recorded)
    accept(tc)        recorded EXECUTING            -> ACCEPTED (then the handler runs)
    done(tc, code)    0                             -> STARTED, COMPLETED
                      a failure code                -> START_FAILED, REFUSED
                      RUNNING                       -> STARTED; the sequencer's from now on:
    progress(...)     each burn                     -> PROGRESS (failure: the slot not confirmed)
    complete(...)     the last burn, or a stop      -> COMPLETED or COMPLETION_FAILED
    reserve(inner)    SCHED_INSERT's nested TC      -> checked as from the link, then reserved

A MAC is checked before the request id, so a byte-identical resend of an accepted TC (a
ground retry) is answered DUPLICATE with its outcome before its counter is judged, and an
altered copy never gets that far. With a key in use, ABORT and SAFE need no MAC and are
not recorded (Auth.open): a stranger's one spends no request id or count of the operator's.

Success reports follow the TC's ack flags; failures are always sent. Failure data comes
with the code (``fail``), from whichever part refused.

Exactly once. A telecommand's request id is recorded, EXECUTING, before it acts, and its
outcome when it ends (firmware/state.py keeps the last 14 and the anti-replay window of
sequence counts). A request id recorded already is refused DUPLICATE with its recorded
outcome; one from the link whose sequence count is older than the window, or in it and
accepted already, is refused STALE: it may have run, so it does not. A telecommand
nested in SCHED_INSERT passes the same two checks when it is inserted (a refusal fails
the SCHED_INSERT at its start, START_FAILED with that code and data), then its sequence
count is admitted to the window and saved before the schedule keeps it: no copy of it
runs, from the link or from another SCHED_INSERT (DUPLICATE while its outcome is
remembered, STALE before its release and after), and the schedule, which drops the
entry before running it, runs it once at its time, however many commands came between
(deleted from the schedule, it never runs). Every record goes
to the backup SRAM, which survives every reset (watchdog, brown-out, reset button, software)
and, with VBAT supplied, a power loss: no telecommand runs twice across resets. The
record of a persisted command (dictionary.persisted: the hazardous ones and those that
change what is kept on flash, SCHED_INSERT's reservation included) also reaches flash
before the command acts: a persisted command runs at most once across a power loss as
well. After a power loss without VBAT any other command may run again if it arrives
again; none of them changes anything that outlives a reset (TIME_SET's correlation
included). A command cut short by a reset is answered DUPLICATE with outcome ABORTED
when repeated, even if it had acted; one refused at acceptance did nothing and may be
sent again. While an actuator is on, a persisted command other than SAFE is refused
BUSY at acceptance: its record cannot reach flash before it acts, as no flash write may
happen during a burn. Send it again as a new command: a signed one's counter is spent at
the refusal, so that no copy of it runs after the burn (AUTH_REPLAY). One power loss
defeats the flash: without VBAT, inside a sector write-back (the board's flash erases a
whole sector before writing it back), it takes every record with it; the next boot
reports RECORD_MISSING (or RECORD_CORRUPT), the slots are resolved by their switches and
any request id may run again. A flight board has VBAT supplied (docs/ARCHITECTURE.md, "What the board's flash does").
"""

from micropython import const

from firmware.tables import AUTH_MISSING, AUTH_REPLAY, BUSY, DUPLICATE, EV_REFUSED, EXECUTING, STALE, STORAGE
from firmware.telemetry import ACCEPT, COMPLETE, PROGRESS, START

RUNNING = const(-1)  # a handler's result: the sequencer now runs the command and completes it


class Verification:
    def __init__(self, state, tm, auth):
        self._st = state
        self._tm = tm
        self.auth = auth
        self._open = False  # the current TC runs unrecorded (Auth.open)
        self.accepted = self.rejected = 0  # reported in housekeeping
        self._data = 0  # failure data of the current refusal
        self._durable = False  # the current TC is a persisted one
        self._run_rid = self._run_ack = 0  # the FIRE or FIRE_SEQUENCE the sequencer runs (0: none)

    def fail(self, code, data):
        """``code``, noting ``data`` as the failure data its report will carry."""
        self._data = data
        return code

    def authentic(self, buf, tc, i, extra, from_link):
        """0, or why the link's ``tc`` (command ``i``, ``extra`` bytes after its arguments) fails
        authentication (firmware/auth.py); its trailer leaves ``tc.data_len``."""
        a = self.auth
        a.key = 0
        a.due = False
        self._open = from_link and a.open(i)
        return a.check(buf, tc, extra, i) if from_link else 0

    def check(self, tc, from_link):
        """0, or why ``tc`` must not run: DUPLICATE or STALE (with its data), AUTH_REPLAY."""
        if self._open:
            return 0
        code = self._seen(tc, from_link)
        if not code and from_link and self.auth.stale:
            return AUTH_REPLAY
        return code

    def _seen(self, tc, from_link):
        st = self._st
        seen = st.outcome(tc.request_id)
        if seen >= 0:
            return self.fail(DUPLICATE, seen)
        if from_link and st.stale(tc.seq):
            return self.fail(STALE, st.newest())  # where the ground's counter must go on from
        return 0

    def refuse(self, tc, code):
        """Refused at acceptance: nothing was recorded, so it may be sent again (BUSY: as a new
        command; a signed one's counter is spent, so that no copy of it runs after the burn)."""
        a = self.auth
        if AUTH_MISSING <= code <= AUTH_REPLAY:
            a.rejected += 1
        elif code == BUSY:
            a.due = False  # no lease during a burn (no flash write): the next signed command writes it
            a.admit()
        self._report(ACCEPT, tc, code)

    def accept(self, tc, from_link, durable):
        """Record ``tc`` EXECUTING (to flash too if ``durable``) before it acts, then say ACCEPTED."""
        self.accepted += 1
        self._durable = durable
        if not self._open:
            if from_link:
                self.auth.admit()  # before the request id: a reset between them leaves it refused, not run
                self._st.admit(tc.seq)
            self._st.record(tc.request_id, EXECUTING, durable)
        self._tm.verify(ACCEPT, tc.request_id, tc.ack)

    def done(self, tc, code):
        """The accepted ``tc``'s handler returned ``code``: 0, a failure code, or RUNNING."""
        rid = tc.request_id
        if code == RUNNING:
            self._run_rid = rid
            self._run_ack = tc.ack
        elif not self._open:
            self._st.end(rid, code, self._durable)
        if code > 0:
            self._report(START, tc, code)
            return
        self._tm.verify(START, rid, tc.ack)
        if code == 0:
            self._tm.verify(COMPLETE, rid, tc.ack)

    def reserve(self, inner):
        """Reserve SCHED_INSERT's nested ``inner`` for its release: 0, or DUPLICATE, STALE, STORAGE."""
        code = self._seen(inner, True)
        if code:
            return code
        self._st.admit(inner.seq)  # a copy from the link, or in another SCHED_INSERT, is STALE now
        return 0 if self._st.save(True) else STORAGE  # on flash before the schedule keeps it

    # --- the running FIRE or FIRE_SEQUENCE (the sequencer's) --------------------------------
    def progress(self, step, code=0, data=0):
        self._tm.verify(PROGRESS, self._run_rid, self._run_ack, code, data, step)

    def complete(self, code, data):
        """The running command ended with ``code``; nothing if none runs."""
        rid = self._run_rid
        if rid:
            self._run_rid = 0
            self._st.end(rid, code, True)  # recorded before reported (FIRE, FIRE_SEQUENCE: persisted)
            self._tm.verify(COMPLETE, rid, self._run_ack, code, data)

    def running(self):
        """The request id of the command the sequencer runs, or 0."""
        return self._run_rid

    def _report(self, stage, tc, code):
        self.rejected += 1
        self._tm.verify(stage, tc.request_id, tc.ack, code, self._data)
        self._data = 0
        self._tm.event(EV_REFUSED, tc.service, tc.subtype, code)
