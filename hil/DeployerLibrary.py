"""Robot Framework keywords for the payload deployer, on any target.

The link is ground's ``Client`` (PUS 1 verification, events, housekeeping), on the
target's link or through a ground server on it; every frame it sees and every
procedure run goes to archive.sqlite in the output folder. Inputs, satellites,
faults, resets and output lines go through the target adapter of hil/targets.py,
chosen by the target's resource file:
``Start The Simulated Board`` (sim.resource) or ``Use The Renode Board``
(renode.resource). Every keyword that checks something fails with a message
naming what was expected and what came instead.

Events are looked for among the telemetry received since the last command was
sent or the board was reset: assert an event after the step that causes it.
"""

import datetime
import os
import sys

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import timestr_to_secs as _seconds  # "5", "2.5", "500 ms" -> seconds

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from firmware import dictionary as d  # noqa: E402  (the repository root is on sys.path first)
from firmware import framing, packet  # noqa: E402
from ground import auth, procedure, runner  # noqa: E402
from ground.archive import Archive  # noqa: E402
from ground.client import Client  # noqa: E402
from ground.errors import GroundError  # noqa: E402
from ground.server import Background, Server  # noqa: E402
from hil.targets import RenodeTarget, SimTarget  # noqa: E402

# The PUS 1 reports that end a command: a refusal, or the completion report. A progress
# failure does not end one (the sequencer burns again after it), so it is not here.
_REFUSALS = ("ACCEPT_FAILED", "START_FAILED")
_FINAL_REPORTS = _REFUSALS + ("COMPLETED", "COMPLETION_FAILED")
_PING_RETRIES = 10  # resends while the firmware boots: bytes sent to an MCU in reset are lost
_DAY_MS = 86400000
_CDS_EPOCH = datetime.datetime(1958, 1, 1, tzinfo=datetime.UTC)  # day 0 of CCSDS CDS time
_SHORT_JUNK = 3  # bytes: fewer than a CCSDS header and a CRC, dropped as undecodable
_NOISE = b"\xff\x13\x37\x42\x00"  # COBS code 0xFF announces 254 bytes, 3 follow: undecodable
# Keywords with embedded arguments take no others (Renode's renode-test pins Robot 6),
# so their waits are fixed here.
_BURN_TIMEOUT = 5.0  # s from a FIRE (or a schedule release) to its actuator burning
_OUTPUT_TIMEOUT = 2.0  # s for an output line to follow a command
_ARCHIVE = "archive.sqlite"  # in the output folder: every frame and procedure run (ground replay, proc replay)


@library(scope="SUITE", auto_keywords=False)
class DeployerLibrary:
    def __init__(self, command_timeout="10 s"):
        self.command_timeout = _seconds(command_timeout)
        self.target = None
        self.client = None
        self.server = None  # a ground server on the link (Background), when the client goes through one
        self.archive = None
        self._mark = 0  # telemetry position from which events are looked for
        self.signer = None  # the operator's key (Connect To The Deployer Signing With)
        self._last = None  # the last packet the client sent (a replay's original)

    # --- targets -------------------------------------------------------------------

    @keyword
    def start_the_simulated_board(self, *options):
        """Start ``python -m sim`` with these command-line ``options`` (e.g. ``--seed`` ``7``).

        Its stdout and stderr are kept in the output folder, under ``sim/<test name>/``.
        """
        builtin = BuiltIn()
        test = builtin.get_variable_value("${TEST NAME}", "suite").replace(" ", "_")
        workdir = os.path.join(builtin.get_variable_value("${OUTPUT DIR}"), "sim", test)
        os.makedirs(workdir, exist_ok=True)
        self.target = SimTarget(options, workdir)  # set first: the teardown stops a half-started sim
        self.target.start()

    @keyword
    def stop_the_simulated_board(self):
        """Stop the sim; fails if it died during the test (its stderr is in the message)."""
        target, self.target = self.target, None
        if target is not None:
            target.stop()

    @keyword
    def use_the_renode_board(self, link_url, repl):
        """Drive the Renode machine loaded by deployer.resc through monitor commands."""
        builtin = BuiltIn()
        self.target = RenodeTarget(lambda cmd: builtin.run_keyword("Execute Command", cmd), link_url, repl).start()

    def _target(self):
        if self.target is None:
            raise AssertionError("no target: the suite must start one (Start The Target)")
        return self.target

    # --- link ----------------------------------------------------------------------

    @keyword
    def connect_to_the_deployer(self, timeout="20 s"):
        """Open the link and wait until the firmware answers a PING."""
        self.archive = Archive(os.path.join(BuiltIn().get_variable_value("${OUTPUT DIR}"), _ARCHIVE))
        self._connect(Client(self._target().link_url, timeout=self.command_timeout, retries=0, archive=self.archive),
                      timeout)

    @keyword
    def connect_to_the_deployer_through_a_ground_server(self, timeout="20 s"):
        """Put a ground server on the link (``ground serve``, on a thread here), join it and take
        command authority, as an operator position does: every keyword after this goes through it."""
        self.disconnect_from_the_deployer()
        self.archive = Archive(os.path.join(BuiltIn().get_variable_value("${OUTPUT DIR}"), _ARCHIVE))
        self.server = Background(Server(self._target().link_url, self.archive, timeout=self.command_timeout,
                                        retries=0))
        self.client = Client(self.server.url, timeout=self.command_timeout, retries=0, name="hil")
        self.client.take()
        self._connect(self.client, timeout)

    @keyword
    def operator_key_file(self):
        """A key file with one fresh key (id 1), readable by its owner only; returns its path."""
        path = os.path.join(BuiltIn().get_variable_value("${OUTPUT DIR}"), "operator.keys")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("1 %s\n" % os.urandom(auth.KEY_LEN).hex())
        return path

    @keyword
    def connect_to_the_deployer_signing_with(self, key_file, timeout="20 s"):
        """Connect To The Deployer, the client signing every command with ``key_file``'s key 1."""
        out = BuiltIn().get_variable_value("${OUTPUT DIR}")
        self.archive = Archive(os.path.join(out, _ARCHIVE))
        self.signer = auth.Signer(key_file, os.path.join(out, "tc_counter"))
        self._connect(Client(self._target().link_url, timeout=self.command_timeout, retries=0, archive=self.archive,
                             signer=self.signer), timeout)

    def _connect(self, client, timeout):
        self.client = client
        per_try = _seconds(timeout) / _PING_RETRIES
        v = client.send("PING", timeout=per_try, retries=_PING_RETRIES - 1, check=False)
        if not v.ok:
            raise AssertionError("the deployer did not answer PING within %s: %s" % (timeout, v))
        self._mark = v.mark

    @keyword
    def disconnect_from_the_deployer(self):
        client, self.client = self.client, None
        if client is not None:
            client.close()
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        archive, self.archive = self.archive, None  # the client's, or the server's
        if archive is not None:
            archive.close()

    def _client(self):
        if self.client is None:
            raise AssertionError("not connected: Connect To The Deployer first")
        return self.client

    # --- commands ------------------------------------------------------------------

    def _submit(self, name, args, timeout):
        v = self._client().submit(name, *args, confirm=True, timeout=_seconds(timeout or self.command_timeout))
        self._mark = v.mark
        self._last = v.command.packet
        return v

    def _tampered(self, how, name, args):
        """Command ``name`` as an attacker on the line sends it: ``unsigned``, ``forged`` (a key of
        its own), ``altered`` (the operator's, its last argument byte changed), ``truncated`` (the
        operator's, 4 MAC bytes cut), ``replayed`` (the last packet the client sent, byte for byte)."""
        if how == "replayed":
            return self._last
        raw = self._client().build(name, *args).packet
        if how == "unsigned":
            return raw
        if how == "forged":
            return auth.sign(raw, 1, os.urandom(auth.KEY_LEN), self.signer.counter + 1)
        body = bytearray(self.signer.sign(raw)[:-packet.CRC_LEN])
        if how == "altered":
            body[len(raw) - packet.CRC_LEN - 1] ^= 1
        elif how == "truncated":
            del body[-4:]
            body[4:6] = (len(body) + packet.CRC_LEN - 7).to_bytes(2, "big")
        else:
            raise AssertionError("how: unsigned, forged, altered, truncated or replayed, got %r" % how)
        return bytes(body) + packet.crc16(body, len(body)).to_bytes(2, "big")  # only the MAC can tell

    @keyword
    def tampered_command_should_be_refused(self, how, name, *args, reason):
        """Send ``name`` tampered ``how`` (see _tampered) on the link; it must be refused at acceptance
        with failure ``reason``."""
        rec, got = self._outcome_of(self._tampered(how, name, args), "%s %s" % (how, name))
        if rec.name != "ACCEPT_FAILED" or got != reason:
            raise AssertionError("the %s %s should have been refused %s: %s %s" % (how, name, reason, rec.name, got))

    @keyword
    def command_should_succeed_unsigned(self, name, *args):
        """Send ``name`` with no authentication trailer; it must complete (ABORT, SAFE)."""
        rec, got = self._outcome_of(self._tampered("unsigned", name, args), "unsigned " + name)
        if rec.name != "COMPLETED":
            raise AssertionError("the unsigned %s should have completed: %s %s" % (name, rec.name, got))

    def _outcome_of(self, raw, what):
        """Write ``raw`` on the link; (its final PUS 1 report, the failure code's name)."""
        client = self._client()
        mark = client.position()
        rid = int.from_bytes(raw[:4], "big")
        client.link.write(raw)
        try:
            rec = client.await_record(lambda r: r.name in _FINAL_REPORTS and r.request_id == rid,
                                      timeout=self.command_timeout, since=mark)
        except GroundError:
            raise AssertionError("no outcome for the %s within %g s" % (what, self.command_timeout))
        self._mark = mark
        return rec, d.FAILURE_NAMES.text(rec.values.get("code") or 0)

    def _reports(self, v):
        """The PUS 1 reports received about command ``v``, as text."""
        reports = [r for r in self._client().records(v.mark) if r.service == 1 and r.request_id == v.request_id]
        return "%s; reports: %s" % (v.command, ", ".join(str(r).partition(" ")[2] for r in reports) or "none")

    def _await_report(self, v, names, timeout=None):
        """The first PUS 1 report about ``v`` named in ``names``, from the telemetry.

        The telemetry, not ``v.stages``: the client stops following a command at its
        first failure report, and here a progress failure is followed by a retry.
        """
        timeout = _seconds(timeout or v.timeout)
        try:
            return self._client().await_record(lambda r: r.name in names and r.request_id == v.request_id,
                                               timeout=timeout, since=v.mark)
        except GroundError:
            raise AssertionError("no %s within %g s for %s" % (" or ".join(names), timeout, self._reports(v)))

    def _should_end(self, v, outcome, reason=None, timeout=None):
        """``v`` ends with report ``outcome`` (and failure ``reason``), whatever came before."""
        report = self._await_report(v, _FINAL_REPORTS, timeout)
        code = report.values.get("code")
        name = d.FAILURE_NAMES.text(code) if code else None
        if report.name not in outcome or name != reason:
            raise AssertionError("%s should have ended %s%s: %s" % (
                v.command, " or ".join(outcome), " " + reason if reason else "", self._reports(v)))

    @keyword
    def command_should_succeed(self, name, *args, timeout=None):
        """Send a command and check it completes; returns its verification."""
        v = self._submit(name, args, timeout)
        self._should_end(v, ("COMPLETED",))
        return v

    @keyword
    def command_should_be_refused(self, name, *args, reason, timeout=None):
        """Send a command and check it is refused (acceptance or start) with failure ``reason``."""
        self._should_end(self._submit(name, args, timeout), _REFUSALS, reason)

    @keyword
    def start_command(self, name, *args, timeout=None):
        """Send a command and wait until the firmware starts executing it; returns its verification."""
        v = self._submit(name, args, timeout)
        if self._await_report(v, ("STARTED",) + _REFUSALS).name != "STARTED":
            raise AssertionError("%s should have started: %s" % (v.command, self._reports(v)))
        return v

    @keyword
    def command_should_complete(self, verification, timeout=None):
        """A started command (from Start Command) completes successfully."""
        self._should_end(verification, ("COMPLETED",), timeout=timeout)

    @keyword
    def command_should_fail(self, verification, reason, timeout=None):
        """A started command ends with a completion failure ``reason``."""
        self._should_end(verification, ("COMPLETION_FAILED",), reason, timeout)

    @keyword
    def set_parameter(self, name, value):
        """PARAM_SET by parameter name (ARM_WINDOW, BURN_MAX, ...)."""
        self.command_should_succeed("PARAM_SET", name, value)

    # --- telemetry -----------------------------------------------------------------

    @keyword
    def event_should_be_reported(self, name, timeout="5 s", **fields):
        """Wait for event ``name`` with those field values; returns its position in the telemetry."""
        try:
            rec = self._client().await_event(name, timeout=_seconds(timeout), since=self._mark, **fields)
        except GroundError as e:
            raise AssertionError("event %s %s should have been reported: %s" % (name, fields, e))
        return rec.position

    def _housekeeping(self):
        v = self.command_should_succeed("HK_ONE_SHOT", d.HK_SID)
        try:
            return self._client().await_hk(since=v.mark, timeout=self.command_timeout)
        except GroundError as e:
            raise AssertionError("no housekeeping report after HK_ONE_SHOT: %s" % e)

    @keyword
    def housekeeping_field(self, name):
        """The raw value of housekeeping field ``name`` in a fresh one-shot report."""
        return self._housekeeping().values[name]

    @keyword
    def housekeeping_should_show(self, **fields):
        """A fresh one-shot report has these values (raw numbers or rendered names like RELEASED)."""
        rec = self._housekeeping()
        text = {n: t for n, t, _bad in rec.rendered()}
        wrong = {k: text.get(k) for k, want in fields.items() if text.get(k) != str(want)}
        if wrong:
            raise AssertionError("housekeeping should show %s, shows %s" % (fields, wrong))

    @keyword("Slot ${slot} Should Be ${state}")
    def slot_should_be(self, slot, state):
        self.housekeeping_should_show(**{"slot%d" % int(slot): state})

    @keyword("Controller Should Be ${state}")
    def controller_should_be(self, state):
        self.housekeeping_should_show(state=state)

    @keyword
    def correlate_on_board_time(self):
        """TIME_SET to the ground's UTC now, as an operator does before time-tagging commands."""
        since = datetime.datetime.now(datetime.UTC) - _CDS_EPOCH
        self.command_should_succeed("TIME_SET", since.days, since.seconds * 1000 + since.microseconds // 1000)

    @keyword
    def on_board_time_in(self, seconds):
        """(days, ms) of on-board time ``seconds`` from now, from a TIME_REPORT."""
        v = self.command_should_succeed("TIME_REPORT")
        try:
            rec = self._client().await_record(lambda r: r.name == "TIME", timeout=self.command_timeout, since=v.mark)
        except GroundError:
            raise AssertionError("no TIME report after TIME_REPORT within %g s" % self.command_timeout)
        later = rec.values["days"] * _DAY_MS + rec.values["ms"] + int(_seconds(seconds) * 1000)
        return divmod(later, _DAY_MS)

    # --- procedures (procedures/*.proc, as operators fly them) ------------------------

    def _fly(self, name, params, answers):
        """Run a shipped procedure as ``ground proc run --yes`` does; its Outcome.

        Every go/no-go is answered GO, or by ``answers`` (comma-separated, in order; then GO).
        The satellite of each FIRE is played by the target as the FIRE starts (Renode has no
        plant). The run goes to the Robot log and to the archive (the client's session, or the
        server's), from which it must read back entry for entry.
        """
        proc = procedure.load(os.path.join(procedure.SHIPPED, name), procedure.param_values(params))
        operator = runner.ScriptedOperator(answers.split(",") if answers else (), rest=runner.GO)
        client = self._client()
        self._mark = client.position()
        r = runner.Runner(proc, client, operator, yes=True,
                          sinks=[lambda e: logger.info(str(e)), self._play_fired_satellite],
                          about={"link": client.link.url, "hil": "Robot"})
        outcome = r.run()
        _first, recorded = runner.replay(self.archive, r.run_id)
        if [str(e) for e in recorded] != [str(e) for e in r.entries]:
            raise AssertionError("run %s of %s is not in the archive as it was shown" % (r.run_id, name))
        return outcome

    def _play_fired_satellite(self, entry):
        if entry.kind == "STAGE" and entry.ref[1].name == "STARTED" and entry.ref[0].command.name == "FIRE":
            self._target().play_satellite(entry.ref[0].command.args[0], _BURN_TIMEOUT)

    @keyword
    def procedure_should_pass(self, name, *params, answers=None):
        """Fly procedures/``name`` with params ``NAME=VALUE``; it must pass every step."""
        outcome = self._fly(name, params, answers)
        if outcome.status != runner.PASSED:
            raise AssertionError("%s should have passed: %s" % (name, outcome))

    @keyword
    def procedure_should_stop(self, name, *params, status, reason, answers=None):
        """Fly procedures/``name``; it must stop with ``status`` (FAILED, ABORTED, NO-GO) for a
        reason that says ``reason``, and its on-abort steps must complete."""
        outcome = self._fly(name, params, answers)
        if outcome.status != status or reason not in outcome.reason or outcome.safe is False:
            raise AssertionError("%s should have stopped %s (%s) and made the payload safe: %s" % (
                name, status, reason, outcome))

    # --- link noise ----------------------------------------------------------------

    @keyword
    def send_garbage(self):
        """Junk between commands: frames with a bad CRC, too short or too long, and raw noise.

        The noise is not COBS (its first code byte promises more bytes than follow) and
        ends with a delimiter, so it is one dropped frame, not a prefix of the next TC.
        """
        link = self._client().link
        bad_crc = bytearray(os.urandom(20))
        if packet.crc16(bad_crc, len(bad_crc)) == 0:  # a random 1 in 65536: make sure it is wrong
            bad_crc[0] ^= 0xFF
        for junk in (bytes(bad_crc), b"\x01" * _SHORT_JUNK, b"\x55" * (framing.MAX_FRAME + 1)):
            link.write(junk)
        link.write_raw(_NOISE)

    # --- the world around the board ------------------------------------------------

    @keyword
    def set_deployer_input(self, name, on):
        """Set inhibit input ``rbf_removed`` or ``permit`` (True = deployment allowed by it)."""
        self._target().set_input(name, on)

    @keyword("Stick The Switch Of Slot ${slot}")
    def stick_the_switch(self, slot):
        """Fault: the slot's separation switch reads stowed, whatever the satellite does."""
        self._target().stick_switch(slot)

    @keyword
    def fire_slot(self, slot):
        """FIRE ``slot`` and check its actuator burns; returns the started command."""
        v = self.start_command("FIRE", slot)
        self.actuator_should_burn(slot)
        return v

    @keyword("Actuator Of Slot ${slot} Should Burn")
    def actuator_should_burn(self, slot):
        """The slot's actuator burns; then its satellite separates, unless its switch is stuck."""
        self._target().play_satellite(slot, _BURN_TIMEOUT)

    @keyword
    def reset_the_board(self):
        """Reset the MCU (the satellites keep their state); events are looked for from now on."""
        self._mark = self._client().position()
        self._target().reset()

    @keyword("Output ${name} Should Be ${state}")
    def output_should_be(self, name, state):
        """Output line ``arm`` or ``actuator1``..``actuator4`` reads ``On`` or ``Off``."""
        if state.lower() not in ("on", "off"):
            raise AssertionError("an output is On or Off, not %r" % state)
        self._target().output_should_be(name, state.lower() == "on", _OUTPUT_TIMEOUT)

    @keyword("Slot ${slot} Should Not Burn Again Within ${duration}")
    def slot_should_not_burn_again(self, slot, duration):
        self._target().actuator_should_stay_off(slot, _seconds(duration))

    # --- the emulated MCU (Renode only) ------------------------------------------

    def _renode(self):
        target = self._target()
        if not isinstance(target, RenodeTarget):
            raise AssertionError("this step needs the renode target: the sim models no MCU clock, timer or ADC")
        return target

    @keyword("The Burn Of Slot ${slot} Should Start Within ${timeout}")
    def burn_should_start(self, slot, timeout):
        """Waits for the actuator to turn on and pauses the emulation at that instant."""
        self._renode().burn_should_start(slot, _seconds(timeout))

    @keyword("The Burn Of Slot ${slot} Should End Between ${lo} And ${hi} ms")
    def burn_should_end_between(self, slot, lo, hi):
        """From that instant: on for ``lo`` ms, off by ``hi`` ms of virtual time; resumes the emulation."""
        self._renode().burn_should_end_between(slot, float(lo) / 1000, float(hi) / 1000)

    @keyword
    def set_the_temperature_sensor(self, ts_cal1, ts_cal2, sample):
        """Calibration words and ADC sample of the MCU's temperature sensor."""
        self._renode().set_temperature_sensor(ts_cal1, ts_cal2, sample)
