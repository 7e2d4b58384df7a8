"""The command and telemetry dictionary: the one definition of every id and layout.

Firmware handlers, the ground encoder and decoder, and docs/ICD.md all read this
module; nothing else may restate an id, a code, a field layout or the names of a
field's values.

Every row is typed (the classes below) and read by attribute. A ``Field`` is one
argument or telemetry field, big-endian on the wire; ``lo``/``hi`` bound a
command argument (out of range: BAD_ARGUMENT) and are the nominal limits of a
telemetry field (the console colours values outside them; None: no limit on that
side); ``names``, when set, is the ``Names`` table that every tool shows its
values by (an enum, a set of bits, a count per slot, ...).
This module is too big for the board's 64 KiB heap (about 43 KB loaded): the
firmware imports firmware/tables.py instead, generated from this file by
`make icd` (ground/tablegen.py). Run `make icd` after any change here.
"""

import sys

if sys.implementation.name == "micropython":
    raise ImportError("firmware.dictionary is for CPython; firmware code imports firmware.tables")

from typing import NamedTuple

from micropython import const

APID = const(0x0C1)  # the payload controller; one APID for both directions
GROUND_ID = const(1)  # PUS source/destination id of the ground
HK_SID = const(1)  # the one housekeeping structure
N_SLOTS = const(4)
MAX_TC_DATA = const(200)  # longest telecommand application data accepted
MAX_TM_DATA = const(200)  # longest telemetry source data emitted
SCHEDULE_SIZE = const(8)  # time-tagged commands held on board
SWITCH_SETTLE_MS = const(100)  # longest a separation switch chatters after a release (the deployer's specification)

# Authenticated telecommands (docs/ICD.md, "Authentication"): the trailer that ends a signed
# TC's application data is key id u8 | counter u32 | MAC (the first MAC_LEN bytes of
# HMAC-SHA256 under the key, over every byte of the packet before the MAC).
N_KEYS = const(4)  # key ids 1..N_KEYS, each a 32-byte key installed with the application
MAC_LEN = const(16)
TRAILER_LEN = const(21)  # 1 + 4 + MAC_LEN
KEY_LEASE = const(1024)  # counters the payload may skip after a power loss (docs/ARCHITECTURE.md)

# --- Row types -------------------------------------------------------------------
ENUM = "enum"  # value first + i (or numbers[i]) is names[i]
BITS = "bits"  # bit i set is names[i]; shown as the set names joined by ","
COUNTS = "counts"  # 4 bits per item, item i lowest: a count each, shown as names[i]:count
COMMAND = "command"  # a TC subtype: with the record's "service" field, the command it names


class Names(NamedTuple):
    """How a field's raw values read as names; ``text`` is how every tool shows one."""

    title: str  # what docs/ICD.md calls this table
    names: tuple[str, ...]
    kind: str = ENUM
    first: int = 0  # ENUM: the value of names[0]
    zero: str = ""  # ENUM: the name of 0 when the names start above it
    numbers: tuple[int, ...] = ()  # ENUM: the value of each name, when they are not first, first + 1, ...

    def pairs(self):
        """ENUM: (value, name) of each name, in order."""
        return tuple(zip(self.numbers or range(self.first, self.first + len(self.names)), self.names, strict=True))

    def value_of(self, name):
        """The raw value of ENUM name ``name`` (any case), or None."""
        name = str(name).upper()
        if name == self.zero:
            return 0
        return next((v for v, n in self.pairs() if n == name), None)

    def item_count(self, value, i):
        """COUNTS: the count of item ``i`` in ``value``."""
        return value >> 4 * i & 0xF

    def text(self, value, record=None):
        """``value`` by name; a value no name covers shows as ``?N`` (``?0x..`` for bits).

        ``record``: the record's other raw values by field name (COMMAND reads "service").
        """
        if self.kind == BITS:
            extra = value >> len(self.names)
            shown = [n for i, n in enumerate(self.names) if value >> i & 1]
            return ",".join(shown + (["?0x%X" % (extra << len(self.names))] if extra else [])) or "-"
        if self.kind == COUNTS:
            extra = value >> 4 * len(self.names)
            shown = ["%s:%d" % (n, self.item_count(value, i)) for i, n in enumerate(self.names)]
            return ",".join(shown + (["?0x%X" % (extra << 4 * len(self.names))] if extra else []))
        if self.kind == COMMAND:
            service = (record or {}).get("service")
            named = [c.name for c in COMMANDS if (c.service, c.subtype) == (service, value)]
            return "/".join(named) or "?%d" % value
        if value == 0 and self.zero:
            return self.zero
        return next((n for v, n in self.pairs() if v == value), "?%d" % value)


class Field(NamedTuple):
    """One argument or telemetry field."""

    name: str
    code: str  # struct code: B u8, H u16, h i16, I u32; "tc" a whole telecommand; "*" the fields after it repeat
    unit: str = ""  # "0.1 C": the raw value times 0.1 is in C
    lo: int | None = None
    hi: int | None = None
    description: str = ""
    names: Names | None = None  # None: a number
    invalid: int | None = None  # a raw value that means "no valid reading" (shown INVALID)


class Failure(NamedTuple):
    """A PUS 1 failure code; its description says what the failure data holds, where it matters."""

    code: int
    name: str
    description: str


class Parameter(NamedTuple):
    """An on-board parameter (PUS 20): persisted, its value a u32 within lo..hi."""

    id: int
    name: str
    unit: str
    lo: int
    hi: int
    default: int
    description: str


class Command(NamedTuple):
    """A telecommand. ``function``: the PUS 8 function id (prefixed to the arguments as u16), else 0.

    A hazardous command says what it will do in ``confirm``: its arguments in braces, which
    ground/hazard.py fills in words (``{time}``: the CDS time of its days and ms arguments;
    ``{command}``: what a nested command will do). The operator confirms it by typing the
    argument named ``answer`` ("": the command's name). A command with a nested one has a
    ``confirm`` too: it is hazardous when the nested command is.
    """

    name: str
    service: int
    subtype: int
    function: int
    hazardous: bool
    args: tuple[Field, ...]
    description: str
    confirm: str = ""
    answer: str = ""


class Telemetry(NamedTuple):
    """A telemetry packet: PUS service and subtype, and its source data fields."""

    name: str
    service: int
    subtype: int
    fields: tuple[Field, ...]
    description: str


class Event(NamedTuple):
    """A PUS 5 event: its id (u16, first in the data), severity (= PUS 5 subtype), then its fields."""

    id: int
    name: str
    severity: int
    fields: tuple[Field, ...]
    description: str


# --- PUS services (ECSS-E-ST-70-41C numbers) ---------------------------------------
SVC_VERIFICATION = const(1)
SVC_HOUSEKEEPING = const(3)
SVC_EVENT = const(5)
SVC_FUNCTION = const(8)
SVC_TIME = const(9)
SVC_SCHEDULE = const(11)
SVC_TEST = const(17)
SVC_PARAMETER = const(20)
SERVICES = Names("SERVICES", ("VERIFICATION", "HOUSEKEEPING", "EVENT", "FUNCTION_MANAGEMENT", "TIME",
                              "SCHEDULE", "TEST", "PARAMETER"),
                 numbers=(SVC_VERIFICATION, SVC_HOUSEKEEPING, SVC_EVENT, SVC_FUNCTION, SVC_TIME, SVC_SCHEDULE,
                         SVC_TEST, SVC_PARAMETER))

# --- Controller and slot states -------------------------------------------------
SAFE = const(0)
ARMED = const(1)
FIRING = const(2)
COOLDOWN = const(3)
CONTROLLER_STATES = ("SAFE", "ARMED", "FIRING", "COOLDOWN")

STOWED = const(0)
SLOT_FIRING = const(1)
RELEASED = const(2)
FAILED = const(3)
UNKNOWN = const(4)
SLOT_STATES = ("STOWED", "FIRING", "RELEASED", "FAILED", "UNKNOWN")

# Reset causes as reported in HK and the BOOT event.
RESET_CAUSES = ("POWER_ON", "HARD", "WATCHDOG", "DEEPSLEEP", "SOFT", "BROWN_OUT", "UNKNOWN")

# HK "temperature" when the reading is not a number or outside what the sensor can measure.
TEMP_INVALID = const(-32768)

# Bits of the HK "inputs" and "outputs" fields.
IN_RBF_REMOVED = const(1)
IN_PERMIT = const(2)
IN_ARM_LINE = const(4)
INPUT_BITS = ("RBF_REMOVED", "PERMIT", "ARM_LINE")
OUTPUT_BITS = ("ACTUATOR_1", "ACTUATOR_2", "ACTUATOR_3", "ACTUATOR_4", "ARM_ENABLE", "LED")

# Why a burn ended (BURN_END's "why").
END_SWITCH = const(0)
END_MAX_TIME = const(1)
END_ABORT = const(2)
BURN_ENDS = ("SWITCH", "MAX_TIME", "ABORT")

# Records on flash, as the RECORD_* and STORAGE_ERROR events number them.
REC_STATE = const(1)
REC_PARAMS = const(2)
REC_SCHEDULE = const(3)
REC_AUTH = const(4)
RECORDS = ("STATE", "PARAMETERS", "SCHEDULE", "AUTH")

# A key's state (KEY_CHANGED); a key id with no key installed is NONE.
KEY_ACTIVE = const(2)
KEY_REVOKED = const(3)
KEY_STATES = ("NONE", "LOADED", "ACTIVE", "REVOKED")

STATE_NAMES = Names("CONTROLLER_STATES", CONTROLLER_STATES)
SLOT_STATE_NAMES = Names("SLOT_STATES", SLOT_STATES)
RESET_CAUSE_NAMES = Names("RESET_CAUSES", RESET_CAUSES)
INPUT_NAMES = Names("INPUT_BITS", INPUT_BITS, BITS)
OUTPUT_NAMES = Names("OUTPUT_BITS", OUTPUT_BITS, BITS)
SLOT_SET = Names("SLOT_SET", tuple(str(s + 1) for s in range(N_SLOTS)), BITS)  # bit 0 = slot 1
SLOT_COUNTS = Names("SLOT_COUNTS", SLOT_SET.names, COUNTS)  # 4 bits per slot, slot 1 lowest
BURN_END_NAMES = Names("BURN_ENDS", BURN_ENDS)
RECORD_NAMES = Names("RECORDS", RECORDS, first=1)
NO_YES = Names("NO_YES", ("NO", "YES"))
KEY_STATE_NAMES = Names("KEY_STATES", KEY_STATES)
TC_SUBTYPES = Names("TC_SUBTYPES", (), COMMAND)  # REFUSED names the command it refused

# --- Failure codes (PUS 1 failure notices) --------------------------------------
FAILURES = (
    Failure(1, "UNKNOWN_COMMAND", "service, subtype or function id not in this dictionary"),
    Failure(2, "BAD_LENGTH", "application data length does not match the command's layout"),
    Failure(3, "BAD_ARGUMENT", "an argument is outside its range; data = its number, from 1"),
    Failure(4, "DUPLICATE", "request id already executed; data holds its recorded outcome (at SCHED_INSERT's "
                            "start: the nested command's)"),
    Failure(5, "RBF_INSERTED", "remove-before-flight plug is in"),
    Failure(6, "NO_PERMIT", "the lander does not permit deployment"),
    Failure(7, "ARM_LINE_OFF", "the arm-enable hardware line does not read back on"),
    Failure(8, "NOT_ARMED", "controller is not ARMED"),
    Failure(9, "ARM_WINDOW_EXPIRED", "the arm window closed before FIRE"),
    Failure(10, "BUSY", "a burn or sequence is in progress (while an actuator is on: a persisted command)"),
    Failure(11, "SLOT_RELEASED", "slot already released"),
    Failure(12, "SLOT_NOT_STOWED", "slot is FAILED or UNKNOWN; it needs operator attention"),
    Failure(13, "ABORTED", "stopped by ABORT, SAFE, DISARM or a lost inhibit"),
    Failure(14, "NOT_CONFIRMED", "no release confirmed after the last permitted burn"),
    Failure(15, "SCHEDULE_FULL", "no free entry in the time-based schedule"),
    Failure(16, "SCHEDULE_NOT_FOUND", "no scheduled command with that request id"),
    Failure(17, "TIME_PAST", "release time is not in the future"),
    Failure(18, "UNKNOWN_PARAMETER", "no on-board parameter with that id"),
    Failure(19, "STORAGE", "writing flash failed; the change was not kept"),
    Failure(20, "EXECUTING", "request id is still executing"),
    Failure(21, "TIME_NOT_CORRELATED", "on-board time is uptime until TIME_SET: a release time means nothing yet"),
    Failure(22, "STALE", "sequence count older than the window the payload remembers, or in it and taken "
                         "already: it may have run (or waits in the schedule), so it does not (at SCHED_INSERT's "
                         "start: the nested command's); data = the newest sequence count accepted"),
    Failure(23, "SWITCH_SETTLING", "the slot's separation switch is not settled (its last burn or the boot was less "
                                   "than SWITCH_SETTLE_MS ago, or its reading is changing): its satellite may be "
                                   "leaving; data = the slot"),
    Failure(24, "AUTH_MISSING", "a key is in use and the command (not ABORT or SAFE) carries no authentication "
                                "trailer"),
    Failure(25, "AUTH_TRUNCATED", "the application data is shorter than the command's arguments and a whole "
                                  "authentication trailer"),
    Failure(26, "AUTH_KEY", "the trailer's key id is not ACTIVE (KEY_ACTIVATE: nor the key it activates), or is "
                            "REVOKED, or has no key installed; data = the key id"),
    Failure(27, "AUTH_MAC", "the MAC does not match the packet under the trailer's key"),
    Failure(28, "AUTH_REPLAY", "the trailer's counter was accepted already, or is older than the window the payload "
                               "remembers"),
)
UNKNOWN_COMMAND = const(1)
BAD_LENGTH = const(2)
BAD_ARGUMENT = const(3)
DUPLICATE = const(4)
RBF_INSERTED = const(5)
NO_PERMIT = const(6)
ARM_LINE_OFF = const(7)
NOT_ARMED = const(8)
ARM_WINDOW_EXPIRED = const(9)
BUSY = const(10)
SLOT_RELEASED = const(11)
SLOT_NOT_STOWED = const(12)
ABORTED = const(13)
NOT_CONFIRMED = const(14)
SCHEDULE_FULL = const(15)
SCHEDULE_NOT_FOUND = const(16)
TIME_PAST = const(17)
UNKNOWN_PARAMETER = const(18)
STORAGE = const(19)
EXECUTING = const(20)
TIME_NOT_CORRELATED = const(21)
STALE = const(22)
SWITCH_SETTLING = const(23)
AUTH_MISSING = const(24)
AUTH_TRUNCATED = const(25)
AUTH_KEY = const(26)
AUTH_MAC = const(27)
AUTH_REPLAY = const(28)

FAILURE_NAMES = Names("FAILURES", tuple(f.name for f in FAILURES), first=1, zero="NONE")
DISARM_REASONS = FAILURE_NAMES._replace(title="DISARM_REASONS", zero="DISARM")  # 0: the DISARM command

# --- On-board parameters (PUS 20; persisted; values travel as u32) --------------
PARAMETERS = (
    Parameter(1, "ARM_WINDOW", "s", 5, 3600, 60, "how long ARM stays open for FIRE"),
    Parameter(2, "BURN_MAX", "ms", 100, 10000, 3000, "hard maximum of one actuator burn"),
    Parameter(3, "RETRIES", "", 0, 5, 2, "burns after the first before a slot is FAILED"),
    Parameter(4, "COOLDOWN", "ms", 500, 60000, 5000,
              "pause after a burn before a retry (which waits for a settled switch too)"),
    Parameter(5, "DEBOUNCE", "ms", 10, 1000, 50, "time a switch must hold a level to count"),
    Parameter(6, "HK_PERIOD", "ms", 0, 60000, 1000,
              "housekeeping report period; 0: continuous, as fast as the line takes"),
    Parameter(7, "HK_ENABLED", "", 0, 1, 1, "periodic housekeeping on (1) or off (0)"),
)
P_ARM_WINDOW = const(1)
P_BURN_MAX = const(2)
P_RETRIES = const(3)
P_COOLDOWN = const(4)
P_DEBOUNCE = const(5)
P_HK_PERIOD = const(6)
P_HK_ENABLED = const(7)

PARAMETER_NAMES = Names("PARAMETERS", tuple(p.name for p in PARAMETERS), first=1)

# --- Telecommands ---------------------------------------------------------------
# The argument type "tc" is a whole telecommand packet: the rest of the data.
_SLOT = Field("slot", "B", "", 1, N_SLOTS, "deployer slot")
_RID = Field("request_id", "I", "", 0, 0xFFFFFFFF, "packet id and sequence control of the TC")
_SID = Field("sid", "H", "", HK_SID, HK_SID, "housekeeping structure id")
_PARAMETER = Field("id", "H", "", 1, len(PARAMETERS), "parameter", PARAMETER_NAMES)
_KEY = Field("key", "B", "", 1, N_KEYS, "key id")
COMMANDS = (
    Command("PING", SVC_TEST, 1, 0, False, (), "connection test; answered by PONG"),
    Command("HK_ENABLE", SVC_HOUSEKEEPING, 5, 0, False, (_SID,), "start periodic housekeeping"),
    Command("HK_DISABLE", SVC_HOUSEKEEPING, 6, 0, False, (_SID,), "stop periodic housekeeping"),
    Command("HK_ONE_SHOT", SVC_HOUSEKEEPING, 27, 0, False, (_SID,), "send one housekeeping report now"),
    Command("HK_PERIOD", SVC_HOUSEKEEPING, 31, 0, False,
            (_SID, Field("period", "I", "ms", 0, 60000, "report period, 0: continuous")),
            "set the housekeeping period (stored as parameter HK_PERIOD)"),
    Command("ARM", SVC_FUNCTION, 1, 1, True, (), "open the arm window: arm-enable line on, FIRE allowed",
            confirm="switch the arm-enable line on (actuator supply) and open the arm window for FIRE, "
                    "for as long as the ARM_WINDOW parameter says"),
    Command("DISARM", SVC_FUNCTION, 1, 2, False, (), "close the arm window, arm-enable line off"),
    Command("FIRE", SVC_FUNCTION, 1, 3, True, (_SLOT,),
            "burn a slot's actuator until its switch confirms release",
            confirm="release slot {slot}, burning its actuator until its switch confirms release "
                    "(at most 1 + RETRIES burns)",
            answer="slot"),
    Command("FIRE_SEQUENCE", SVC_FUNCTION, 1, 4, True,
            (Field("slots", "B", "", 1, (1 << N_SLOTS) - 1, "the slots to release, a list like 1,2 (two or more)",
                   SLOT_SET),
             Field("spacing", "H", "s", 0, 600, "pause between releases")),
            "release several slots in ascending order, one at a time",
            confirm="release slots {slots}, in that order, {spacing} apart", answer="slots"),
    Command("ABORT", SVC_FUNCTION, 1, 5, False, (), "all outputs off at once, stop any burn, disarm"),
    Command("SAFE", SVC_FUNCTION, 1, 6, False, (), "ABORT, and disable the time-based schedule"),
    Command("KEY_ACTIVATE", SVC_FUNCTION, 1, 7, False, (_KEY,),
            "put a key in use; signed by an ACTIVE key or by the key itself (private function id)"),
    Command("KEY_REVOKE", SVC_FUNCTION, 1, 8, False, (_KEY,),
            "retire a key for good; signed by an ACTIVE key (private function id)"),
    Command("TIME_SET", SVC_TIME, 128, 0, False,
            (Field("days", "H", "d", 0, 0xFFFF, "days since 1958-01-01"),
             Field("ms", "I", "ms", 0, 86399999, "milliseconds of day")),
            "correlate on-board time to ground time (private subtype)"),
    Command("TIME_REPORT", SVC_TIME, 129, 0, False, (), "report on-board time (private subtype)"),
    Command("SCHED_ENABLE", SVC_SCHEDULE, 1, 0, False, (), "enable release of scheduled commands"),
    Command("SCHED_DISABLE", SVC_SCHEDULE, 2, 0, False, (), "disable release of scheduled commands"),
    Command("SCHED_RESET", SVC_SCHEDULE, 3, 0, False, (), "delete every scheduled command"),
    Command("SCHED_INSERT", SVC_SCHEDULE, 4, 0, False,
            (Field("days", "H", "d", 0, 0xFFFF, "release time: days since 1958-01-01"),
             Field("ms", "I", "ms", 0, 86399999, "release time: milliseconds of day"),
             Field("command", "tc", "", None, None,
                   "the telecommand to release: a new one (its request id is reserved when inserted)")),
            "insert one time-tagged telecommand",
            confirm="at {time} (on-board time), {command}"),
    Command("SCHED_DELETE", SVC_SCHEDULE, 5, 0, False, (_RID,), "delete the scheduled command with this request id"),
    Command("SCHED_LIST", SVC_SCHEDULE, 16, 0, False, (), "report the schedule (SCHEDULE)"),
    Command("PARAM_GET", SVC_PARAMETER, 1, 0, False, (_PARAMETER,), "report a parameter (PARAM)"),
    Command("PARAM_SET", SVC_PARAMETER, 3, 0, False,
            (_PARAMETER, Field("value", "I", "", 0, 0xFFFFFFFF, "new value, range per parameter")),
            "set and persist a parameter"),
)

# Commands that change what is kept on flash (parameters, schedule). With the hazardous
# ones they are the persisted commands: their request id and outcome reach flash before they
# act, so they run at most once across a power loss too (docs/ICD.md, "Exactly once"); while
# an actuator is on they are refused BUSY at acceptance, SAFE excepted (firmware/services.py).
STATE_CHANGING = ("HK_ENABLE", "HK_DISABLE", "HK_PERIOD", "SAFE", "SCHED_ENABLE", "SCHED_DISABLE",
                  "SCHED_RESET", "SCHED_INSERT", "SCHED_DELETE", "PARAM_SET", "KEY_ACTIVATE", "KEY_REVOKE")

# --- Telemetry ------------------------------------------------------------------
# A "*" code repeats the rest of the data as records of the listed fields that follow it.
_CODE = Field("code", "H", "", None, None, "failure code", FAILURE_NAMES)
_DATA = Field("data", "H", "", None, None, "failure data (see the failure code)")
_STEP = Field("step", "B", "", None, None, "progress step (burn attempt)")
HK_FIELDS = (
    _SID,
    Field("state", "B", "", None, None, "controller state", STATE_NAMES),
    Field("slot1", "B", "", None, None, "slot 1 state", SLOT_STATE_NAMES),
    Field("slot2", "B", "", None, None, "slot 2 state", SLOT_STATE_NAMES),
    Field("slot3", "B", "", None, None, "slot 3 state", SLOT_STATE_NAMES),
    Field("slot4", "B", "", None, None, "slot 4 state", SLOT_STATE_NAMES),
    Field("attempts", "H", "", None, None, "burns so far per slot (slot:burns)", SLOT_COUNTS),
    Field("switches", "B", "", None, None, "slots whose debounced separation switch reads released", SLOT_SET),
    Field("inputs", "B", "", None, None, "inhibit inputs that are on", INPUT_NAMES),
    Field("outputs", "B", "", None, None, "outputs driven on", OUTPUT_NAMES),
    Field("arm_left", "H", "s", 0, 3600, "seconds left in the arm window"),
    Field("tc_accepted", "H", "", None, None, "telecommands accepted"),
    Field("tc_rejected", "H", "", None, None, "telecommands rejected"),
    Field("crc_errors", "H", "", None, None, "frames dropped for a bad CRC"),
    Field("oversize", "H", "", None, None, "frames dropped for exceeding the maximum length"),
    Field("undecodable", "H", "", None, None, "frames dropped as not COBS or not a packet for us"),
    Field("uptime", "I", "s", None, None, "seconds since boot"),
    Field("boot_count", "H", "", None, None, "boots since the flash was formatted"),
    Field("reset_cause", "B", "", None, None, "cause of the last reset", RESET_CAUSE_NAMES),
    Field("temperature", "h", "0.1 C", -200, 850, "MCU temperature; INVALID (%d) when the sensor reads no number "
          "or one it cannot measure (SENSOR_INVALID)" % TEMP_INVALID, invalid=TEMP_INVALID),
    Field("heap_free", "I", "B", 8192, None,
          "free heap after a garbage collection (at most 1 s old); below 8 KiB a 4-slot release may not fit"),
    Field("scheduled", "B", "", 0, SCHEDULE_SIZE, "commands in the time-based schedule"),
    Field("last_burn", "H", "ms", None, None, "duration of the last burn"),
    Field("auth_rejected", "H", "", None, None, "telecommands refused for their authentication (AUTH_*)"),
)
TELEMETRY = (
    Telemetry("ACCEPTED", SVC_VERIFICATION, 1, (_RID,), "acceptance success"),
    Telemetry("ACCEPT_FAILED", SVC_VERIFICATION, 2, (_RID, _CODE, _DATA), "acceptance failure"),
    Telemetry("STARTED", SVC_VERIFICATION, 3, (_RID,), "start of execution success"),
    Telemetry("START_FAILED", SVC_VERIFICATION, 4, (_RID, _CODE, _DATA), "start of execution failure"),
    Telemetry("PROGRESS", SVC_VERIFICATION, 5, (_RID, _STEP), "progress of execution success"),
    Telemetry("PROGRESS_FAILED", SVC_VERIFICATION, 6, (_RID, _STEP, _CODE, _DATA), "progress of execution failure"),
    Telemetry("COMPLETED", SVC_VERIFICATION, 7, (_RID,), "completion of execution success"),
    Telemetry("COMPLETION_FAILED", SVC_VERIFICATION, 8, (_RID, _CODE, _DATA), "completion of execution failure"),
    Telemetry("HK", SVC_HOUSEKEEPING, 25, HK_FIELDS, "periodic or one-shot housekeeping report"),
    Telemetry("EVENT_INFO", SVC_EVENT, 1, (), "informative event: event id (u16) then its fields"),
    Telemetry("EVENT_LOW", SVC_EVENT, 2, (), "low-severity anomaly event"),
    Telemetry("EVENT_MEDIUM", SVC_EVENT, 3, (), "medium-severity anomaly event"),
    Telemetry("EVENT_HIGH", SVC_EVENT, 4, (), "high-severity anomaly event"),
    Telemetry("TIME", SVC_TIME, 130, (Field("days", "H", "d", None, None, "on-board time: days"),
                                      Field("ms", "I", "ms", None, None, "on-board time: ms of day"),
                                      Field("correlated", "B", "", 0, 1, "TIME_SET was received", NO_YES)),
              "on-board time report (private subtype)"),
    Telemetry("SCHEDULE", SVC_SCHEDULE, 10, (Field("enabled", "B", "", 0, 1, "schedule release enabled", NO_YES),
                                             Field("entry", "*", "", None, None, "one record per scheduled command"),
                                             _RID,
                                             Field("days", "H", "d", None, None, "release time: days"),
                                             Field("ms", "I", "ms", None, None, "release time: ms of day")),
              "time-based schedule detail report"),
    Telemetry("PONG", SVC_TEST, 2, (), "connection test report"),
    Telemetry("PARAM", SVC_PARAMETER, 2, (Field("id", "H", "", None, None, "parameter", PARAMETER_NAMES),
                                          Field("value", "I", "", None, None, "parameter value")),
              "parameter value report"),
)

# --- Events (PUS 5) ---------------------------------------------------------------
INFO = const(1)
LOW = const(2)
MEDIUM = const(3)
HIGH = const(4)
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH")
_E_SLOT = Field("slot", "B", "", 1, N_SLOTS, "slot")
_E_ATTEMPT = Field("attempt", "B", "", None, None, "burn attempt, from 1")
_E_RECORD = Field("record", "B", "", None, None, "the record", RECORD_NAMES)
EVENTS = (
    Event(1, "BOOT", INFO, (Field("boot_count", "H", "", None, None, "boots so far"),
                            Field("reset_cause", "B", "", None, None, "cause of this reset", RESET_CAUSE_NAMES)),
          "controller started SAFE"),
    Event(2, "RECORD_CORRUPT", MEDIUM, (_E_RECORD,), "a stored record failed its check; safe defaults used"),
    Event(3, "ARMED", INFO, (Field("window", "H", "s", None, None, "arm window"),), "arm window opened"),
    Event(4, "DISARMED", INFO, (Field("reason", "H", "", None, None, "failure code, or DISARM: the command",
                                      DISARM_REASONS),), "arm window closed"),
    Event(5, "ARM_LOST", MEDIUM, (Field("reason", "H", "", None, None, "failure code of the lost inhibit",
                                        FAILURE_NAMES),),
          "an inhibit dropped while armed or firing: disarmed, outputs off"),
    Event(6, "BURN_START", INFO, (_E_SLOT, _E_ATTEMPT), "actuator energised"),
    Event(7, "BURN_END", INFO, (_E_SLOT, _E_ATTEMPT, Field("duration", "H", "ms", None, None, "on-time"),
                                Field("why", "B", "", None, None, "what ended the burn", BURN_END_NAMES)),
          "actuator off"),
    Event(8, "RELEASED", INFO, (_E_SLOT, _E_ATTEMPT), "separation switch confirmed release"),
    Event(9, "SLOT_FAILED", HIGH, (_E_SLOT, _E_ATTEMPT), "no release after the last permitted burn"),
    Event(10, "EARLY_RELEASE", MEDIUM, (_E_SLOT,), "switch shows release of a slot never fired"),
    Event(11, "SWITCH_BOUNCE", LOW, (_E_SLOT,), "switch of a released slot reads stowed again"),
    Event(12, "SLOT_UNKNOWN", HIGH, (_E_SLOT,), "reset during a burn: slot state unknown"),
    Event(13, "SLOT_RESOLVED", INFO, (_E_SLOT, Field("state", "B", "", None, None, "slot state", SLOT_STATE_NAMES)),
          "switch read after reset resolved an UNKNOWN slot"),
    Event(14, "ABORTED", HIGH, (Field("state", "B", "", None, None, "controller state before", STATE_NAMES),),
          "ABORT: all outputs off"),
    Event(15, "REFUSED", LOW, (Field("service", "B", "", None, None, "TC service", SERVICES),
                               Field("subtype", "B", "", None, None, "TC subtype: the command(s) it names",
                                     TC_SUBTYPES),
                               Field("code", "H", "", None, None, "failure code", FAILURE_NAMES)),
          "a telecommand was refused"),
    Event(16, "HW_CUTOFF", HIGH, (_E_SLOT,), "hardware timer cut a burn the loop did not end"),
    Event(17, "PARAM_CHANGED", INFO, (Field("id", "H", "", None, None, "parameter", PARAMETER_NAMES),
                                      Field("value", "I", "", None, None, "new value")),
          "parameter set and persisted"),
    Event(18, "TIME_CORRELATED", INFO, (), "on-board time set from ground"),
    Event(19, "SCHEDULE_RELEASED", INFO, (_RID,), "a time-tagged command was released"),
    Event(20, "SCHEDULE_CLEARED", MEDIUM, (Field("count", "B", "", None, None, "entries dropped"),),
          "schedule emptied by SCHED_RESET or SAFE"),
    Event(21, "STORAGE_ERROR", HIGH, (_E_RECORD,), "writing flash failed"),
    Event(22, "RECORD_MISSING", INFO, (_E_RECORD,),
          "no stored record (first boot, or flash formatted): safe defaults used"),
    Event(23, "SENSOR_INVALID", MEDIUM, (), "the MCU temperature sensor read no number, or one it cannot measure"),
    Event(24, "KEY_CHANGED", MEDIUM, (Field("key", "B", "", None, None, "key id"),
                                      Field("state", "B", "", None, None, "its new state", KEY_STATE_NAMES)),
          "KEY_ACTIVATE or KEY_REVOKE, or a boot without the AUTH record put the lowest installed key in use"),
)
EV_BOOT = const(1)
EV_RECORD_CORRUPT = const(2)
EV_ARMED = const(3)
EV_DISARMED = const(4)
EV_ARM_LOST = const(5)
EV_BURN_START = const(6)
EV_BURN_END = const(7)
EV_RELEASED = const(8)
EV_SLOT_FAILED = const(9)
EV_EARLY_RELEASE = const(10)
EV_SWITCH_BOUNCE = const(11)
EV_SLOT_UNKNOWN = const(12)
EV_SLOT_RESOLVED = const(13)
EV_ABORTED = const(14)
EV_REFUSED = const(15)
EV_HW_CUTOFF = const(16)
EV_PARAM_CHANGED = const(17)
EV_TIME_CORRELATED = const(18)
EV_SCHEDULE_RELEASED = const(19)
EV_SCHEDULE_CLEARED = const(20)
EV_STORAGE_ERROR = const(21)
EV_RECORD_MISSING = const(22)
EV_SENSOR_INVALID = const(23)
EV_KEY_CHANGED = const(24)

# Every names table, in the order docs/ICD.md lists them.
NAME_TABLES = (STATE_NAMES, SLOT_STATE_NAMES, RESET_CAUSE_NAMES, INPUT_NAMES, OUTPUT_NAMES, SLOT_SET, SLOT_COUNTS,
               BURN_END_NAMES, RECORD_NAMES, NO_YES, KEY_STATE_NAMES, SERVICES, TC_SUBTYPES, FAILURE_NAMES,
               DISARM_REASONS, PARAMETER_NAMES)


def fmt(fields):
    """The struct format of a fixed field list (no "tc" or "*" field)."""
    return ">" + "".join(f.code for f in fields)


def persisted(c):
    """True if command ``c`` (a COMMANDS entry) runs at most once across a power loss."""
    return c.hazardous or c.name in STATE_CHANGING


def command(name):
    """The Command named ``name``, or None."""
    for c in COMMANDS:
        if c.name == name:
            return c
    return None


def command_for(service, subtype, function):
    """The Command for a TC header (function 0 outside PUS 8), or None."""
    for c in COMMANDS:
        if (c.service, c.subtype, c.function) == (service, subtype, function):
            return c
    return None


def telemetry(name):
    """The Telemetry named ``name``, or None."""
    return next((t for t in TELEMETRY if t.name == name), None)


def parameter(pid):
    """The Parameter with id ``pid``, or None."""
    for p in PARAMETERS:
        if p.id == pid:
            return p
    return None


def event(eid):
    """The Event with id ``eid``, or None."""
    if 1 <= eid <= len(EVENTS):
        return EVENTS[eid - 1]
    return None
