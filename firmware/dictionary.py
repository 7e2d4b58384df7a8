"""The command and telemetry dictionary: the one definition of every id and layout.

Firmware handlers, the ground encoder and decoder, and docs/ICD.md all read this
module; nothing else may restate an id, a code or a field layout.

A field is ``(name, struct_code, unit, lo, hi, description)``, big-endian on the
wire. ``lo``/``hi`` bound a command argument (out of range: BAD_ARGUMENT) and are
the nominal limits of a telemetry field (the console colours values outside them;
None: no limit on that side).
This module is too big for the board's 64 KiB heap (about 43 KB loaded): the
firmware imports firmware/tables.py instead, generated from this file by
`make icd` (ground/tablegen.py). Run `make icd` after any change here.
"""

import sys

if sys.implementation.name == "micropython":
    raise ImportError("firmware.dictionary is for CPython; firmware code imports firmware.tables")

from micropython import const

APID = const(0x0C1)  # the payload controller; one APID for both directions
GROUND_ID = const(1)  # PUS source/destination id of the ground
HK_SID = const(1)  # the one housekeeping structure
N_SLOTS = const(4)
MAX_TC_DATA = const(200)  # longest telecommand application data accepted
MAX_TM_DATA = const(200)  # longest telemetry source data emitted
SCHEDULE_SIZE = const(8)  # time-tagged commands held on board

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

# Bits of the HK "inputs" and "outputs" fields.
IN_RBF_REMOVED = const(1)
IN_PERMIT = const(2)
IN_ARM_LINE = const(4)
INPUT_BITS = ("RBF_REMOVED", "PERMIT", "ARM_LINE")
OUTPUT_BITS = ("ACTUATOR_1", "ACTUATOR_2", "ACTUATOR_3", "ACTUATOR_4", "ARM_ENABLE", "LED")

# --- Failure codes (PUS 1 failure notices) --------------------------------------
# (code, name, description); the code is the index + 1.
FAILURES = (
    ("UNKNOWN_COMMAND", "service, subtype or function id not in this dictionary"),
    ("BAD_LENGTH", "application data length does not match the command's layout"),
    ("BAD_ARGUMENT", "an argument is outside its range"),
    ("DUPLICATE", "request id already executed; data holds its recorded outcome"),
    ("RBF_INSERTED", "remove-before-flight plug is in"),
    ("NO_PERMIT", "the lander does not permit deployment"),
    ("ARM_LINE_OFF", "the arm-enable hardware line does not read back on"),
    ("NOT_ARMED", "controller is not ARMED"),
    ("ARM_WINDOW_EXPIRED", "the arm window closed before FIRE"),
    ("BUSY", "a burn or sequence is in progress (an actuator is on: a persisted command waits)"),
    ("SLOT_RELEASED", "slot already released"),
    ("SLOT_NOT_STOWED", "slot is FAILED or UNKNOWN; it needs operator attention"),
    ("ABORTED", "stopped by ABORT, SAFE, DISARM or a lost inhibit"),
    ("NOT_CONFIRMED", "no release confirmed after the last permitted burn"),
    ("SCHEDULE_FULL", "no free entry in the time-based schedule"),
    ("SCHEDULE_NOT_FOUND", "no scheduled command with that request id"),
    ("TIME_PAST", "release time is not in the future"),
    ("UNKNOWN_PARAMETER", "no on-board parameter with that id"),
    ("STORAGE", "writing flash failed; the change was not kept"),
    ("EXECUTING", "request id is still executing"),
    ("TIME_NOT_CORRELATED", "on-board time is uptime until TIME_SET: a release time means nothing yet"),
    ("STALE", "sequence count older than the window the payload remembers: it may have run, so it does "
              "not; data = the newest sequence count accepted"),
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

# --- On-board parameters (PUS 20; persisted; values travel as u32) --------------
# (id, name, unit, lo, hi, default, description)
PARAMETERS = (
    (1, "ARM_WINDOW", "s", 5, 3600, 60, "how long ARM stays open for FIRE"),
    (2, "BURN_MAX", "ms", 100, 10000, 3000, "hard maximum of one actuator burn"),
    (3, "RETRIES", "", 0, 5, 2, "burns after the first before a slot is FAILED"),
    (4, "COOLDOWN", "ms", 500, 60000, 5000, "pause after a burn while the switch settles"),
    (5, "DEBOUNCE", "ms", 10, 1000, 50, "time a switch must hold a level to count"),
    (6, "HK_PERIOD", "ms", 0, 60000, 1000, "housekeeping report period; 0: continuous, as fast as the line takes"),
    (7, "HK_ENABLED", "", 0, 1, 1, "periodic housekeeping on (1) or off (0)"),
)
P_ARM_WINDOW = const(1)
P_BURN_MAX = const(2)
P_RETRIES = const(3)
P_COOLDOWN = const(4)
P_DEBOUNCE = const(5)
P_HK_PERIOD = const(6)
P_HK_ENABLED = const(7)

# --- Telecommands ---------------------------------------------------------------
# (name, service, subtype, function_id, hazardous, args, description)
# function_id is the PUS 8 function id (prefixed to the arguments as u16), else 0.
# The argument type "tc" is a whole telecommand packet: the rest of the data.
_SLOT = ("slot", "B", "", 1, N_SLOTS, "deployer slot")
_RID = ("request_id", "I", "", 0, 0xFFFFFFFF, "packet id and sequence control of the TC")
_SID = ("sid", "H", "", HK_SID, HK_SID, "housekeeping structure id")
COMMANDS = (
    ("PING", 17, 1, 0, False, (), "connection test; answered by PONG"),
    ("HK_ENABLE", 3, 5, 0, False, (_SID,), "start periodic housekeeping"),
    ("HK_DISABLE", 3, 6, 0, False, (_SID,), "stop periodic housekeeping"),
    ("HK_ONE_SHOT", 3, 27, 0, False, (_SID,), "send one housekeeping report now"),
    ("HK_PERIOD", 3, 31, 0, False, (_SID, ("period", "I", "ms", 0, 60000, "report period, 0: continuous")),
     "set the housekeeping period (stored as parameter HK_PERIOD)"),
    ("ARM", 8, 1, 1, True, (), "open the arm window: arm-enable line on, FIRE allowed"),
    ("DISARM", 8, 1, 2, False, (), "close the arm window, arm-enable line off"),
    ("FIRE", 8, 1, 3, True, (_SLOT,), "burn a slot's actuator until its switch confirms release"),
    ("FIRE_SEQUENCE", 8, 1, 4, True,
     (("slots", "B", "bitmask", 1, (1 << N_SLOTS) - 1, "bit 0 = slot 1"),
      ("spacing", "H", "s", 0, 600, "pause between releases")),
     "release several slots in ascending order, one at a time"),
    ("ABORT", 8, 1, 5, False, (), "all outputs off at once, stop any burn, disarm"),
    ("SAFE", 8, 1, 6, False, (), "ABORT, and disable the time-based schedule"),
    ("TIME_SET", 9, 128, 0, False,
     (("days", "H", "d", 0, 0xFFFF, "days since 1958-01-01"),
      ("ms", "I", "ms", 0, 86399999, "milliseconds of day")),
     "correlate on-board time to ground time (private subtype)"),
    ("TIME_REPORT", 9, 129, 0, False, (), "report on-board time (private subtype)"),
    ("SCHED_ENABLE", 11, 1, 0, False, (), "enable release of scheduled commands"),
    ("SCHED_DISABLE", 11, 2, 0, False, (), "disable release of scheduled commands"),
    ("SCHED_RESET", 11, 3, 0, False, (), "delete every scheduled command"),
    ("SCHED_INSERT", 11, 4, 0, False,
     (("days", "H", "d", 0, 0xFFFF, "release time: days since 1958-01-01"),
      ("ms", "I", "ms", 0, 86399999, "release time: milliseconds of day"),
      ("command", "tc", "", None, None, "the telecommand to release")),
     "insert one time-tagged telecommand"),
    ("SCHED_DELETE", 11, 5, 0, False, (_RID,), "delete the scheduled command with this request id"),
    ("SCHED_LIST", 11, 16, 0, False, (), "report the schedule (SCHEDULE)"),
    ("PARAM_GET", 20, 1, 0, False, (("id", "H", "", 1, len(PARAMETERS), "parameter id"),),
     "report a parameter (PARAM)"),
    ("PARAM_SET", 20, 3, 0, False,
     (("id", "H", "", 1, len(PARAMETERS), "parameter id"),
      ("value", "I", "", 0, 0xFFFFFFFF, "new value, range per parameter")),
     "set and persist a parameter"),
)

# Commands that change what is kept on flash (parameters, schedule). With the hazardous
# ones they are the persisted commands: their request id and outcome reach flash before they
# act, so they run at most once across a power loss too (docs/ICD.md, "Exactly once"); while
# an actuator is on they are refused BUSY at acceptance, SAFE excepted (firmware/services.py).
STATE_CHANGING = ("HK_ENABLE", "HK_DISABLE", "HK_PERIOD", "SAFE", "SCHED_ENABLE", "SCHED_DISABLE",
                  "SCHED_RESET", "SCHED_INSERT", "SCHED_DELETE", "PARAM_SET")

# --- Telemetry ------------------------------------------------------------------
# (name, service, subtype, fields, description); a "*" code repeats the rest of
# the data as records of the listed fields that follow it.
_CODE = ("code", "H", "", None, None, "failure code")
_DATA = ("data", "H", "", None, None, "failure data")
_STEP = ("step", "B", "", None, None, "progress step (burn attempt)")
HK_FIELDS = (
    _SID,
    ("state", "B", "enum", None, None, "controller state (CONTROLLER_STATES)"),
    ("slot1", "B", "enum", None, None, "slot 1 state (SLOT_STATES)"),
    ("slot2", "B", "enum", None, None, "slot 2 state"),
    ("slot3", "B", "enum", None, None, "slot 3 state"),
    ("slot4", "B", "enum", None, None, "slot 4 state"),
    ("attempts", "H", "", None, None, "burns so far, 4 bits per slot, slot 1 lowest"),
    ("switches", "B", "bitmask", None, None, "debounced separation switches, 1 = released"),
    ("inputs", "B", "bitmask", None, None, "inhibit inputs (INPUT_BITS)"),
    ("outputs", "B", "bitmask", None, None, "driven outputs (OUTPUT_BITS)"),
    ("arm_left", "H", "s", 0, 3600, "seconds left in the arm window"),
    ("tc_accepted", "H", "", None, None, "telecommands accepted"),
    ("tc_rejected", "H", "", None, None, "telecommands rejected"),
    ("crc_errors", "H", "", None, None, "frames dropped for a bad CRC"),
    ("oversize", "H", "", None, None, "frames dropped for exceeding the maximum length"),
    ("undecodable", "H", "", None, None, "frames dropped as not COBS or not a packet for us"),
    ("uptime", "I", "s", None, None, "seconds since boot"),
    ("boot_count", "H", "", None, None, "boots since the flash was formatted"),
    ("reset_cause", "B", "enum", None, None, "cause of the last reset (RESET_CAUSES)"),
    ("temperature", "h", "0.1 C", -200, 850, "MCU temperature"),
    ("heap_free", "I", "B", 8192, None, "free MicroPython heap"),
    ("scheduled", "B", "", 0, SCHEDULE_SIZE, "commands in the time-based schedule"),
    ("last_burn", "H", "ms", None, None, "duration of the last burn"),
)
TELEMETRY = (
    ("ACCEPTED", 1, 1, (_RID,), "acceptance success"),
    ("ACCEPT_FAILED", 1, 2, (_RID, _CODE, _DATA), "acceptance failure"),
    ("STARTED", 1, 3, (_RID,), "start of execution success"),
    ("START_FAILED", 1, 4, (_RID, _CODE, _DATA), "start of execution failure"),
    ("PROGRESS", 1, 5, (_RID, _STEP), "progress of execution success"),
    ("PROGRESS_FAILED", 1, 6, (_RID, _STEP, _CODE, _DATA), "progress of execution failure"),
    ("COMPLETED", 1, 7, (_RID,), "completion of execution success"),
    ("COMPLETION_FAILED", 1, 8, (_RID, _CODE, _DATA), "completion of execution failure"),
    ("HK", 3, 25, HK_FIELDS, "periodic or one-shot housekeeping report"),
    ("EVENT_INFO", 5, 1, (), "informative event: event id (u16) then its fields"),
    ("EVENT_LOW", 5, 2, (), "low-severity anomaly event"),
    ("EVENT_MEDIUM", 5, 3, (), "medium-severity anomaly event"),
    ("EVENT_HIGH", 5, 4, (), "high-severity anomaly event"),
    ("TIME", 9, 130, (("days", "H", "d", None, None, "on-board time: days"),
                      ("ms", "I", "ms", None, None, "on-board time: ms of day"),
                      ("correlated", "B", "", 0, 1, "1 once TIME_SET was received")),
     "on-board time report (private subtype)"),
    ("SCHEDULE", 11, 10, (("enabled", "B", "", 0, 1, "schedule release enabled"),
                          ("entry", "*", "", None, None, "one record per scheduled command"),
                          _RID,
                          ("days", "H", "d", None, None, "release time: days"),
                          ("ms", "I", "ms", None, None, "release time: ms of day")),
     "time-based schedule detail report"),
    ("PONG", 17, 2, (), "connection test report"),
    ("PARAM", 20, 2, (("id", "H", "", None, None, "parameter id"),
                      ("value", "I", "", None, None, "parameter value")), "parameter value report"),
)

# --- Events (PUS 5) ---------------------------------------------------------------
# (id, name, severity 1..4 = PUS 5 subtype, fields, description)
INFO = const(1)
LOW = const(2)
MEDIUM = const(3)
HIGH = const(4)
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH")
_E_SLOT = ("slot", "B", "", 1, N_SLOTS, "slot")
_E_ATTEMPT = ("attempt", "B", "", None, None, "burn attempt, from 1")
EVENTS = (
    (1, "BOOT", INFO, (("boot_count", "H", "", None, None, "boots so far"),
                       ("reset_cause", "B", "enum", None, None, "RESET_CAUSES")), "controller started SAFE"),
    (2, "RECORD_CORRUPT", MEDIUM, (("record", "B", "", None, None, "1 state, 2 parameters, 3 schedule"),),
     "a stored record failed its check; safe defaults used"),
    (3, "ARMED", INFO, (("window", "H", "s", None, None, "arm window"),), "arm window opened"),
    (4, "DISARMED", INFO, (("reason", "H", "enum", None, None, "failure code, 0 = DISARM"),), "arm window closed"),
    (5, "ARM_LOST", MEDIUM, (("reason", "H", "enum", None, None, "failure code of the lost inhibit"),),
     "an inhibit dropped while armed or firing: disarmed, outputs off"),
    (6, "BURN_START", INFO, (_E_SLOT, _E_ATTEMPT), "actuator energised"),
    (7, "BURN_END", INFO, (_E_SLOT, _E_ATTEMPT, ("duration", "H", "ms", None, None, "on-time"),
                           ("why", "B", "", None, None, "0 switch, 1 max time, 2 abort")), "actuator off"),
    (8, "RELEASED", INFO, (_E_SLOT, _E_ATTEMPT), "separation switch confirmed release"),
    (9, "SLOT_FAILED", HIGH, (_E_SLOT, _E_ATTEMPT), "no release after the last permitted burn"),
    (10, "EARLY_RELEASE", MEDIUM, (_E_SLOT,), "switch shows release of a slot never fired"),
    (11, "SWITCH_BOUNCE", LOW, (_E_SLOT,), "switch of a released slot reads stowed again"),
    (12, "SLOT_UNKNOWN", HIGH, (_E_SLOT,), "reset during a burn: slot state unknown"),
    (13, "SLOT_RESOLVED", INFO, (_E_SLOT, ("state", "B", "enum", None, None, "SLOT_STATES")),
     "switch read after reset resolved an UNKNOWN slot"),
    (14, "ABORTED", HIGH, (("state", "B", "enum", None, None, "controller state before"),), "ABORT: all outputs off"),
    (15, "REFUSED", LOW, (("service", "B", "", None, None, "TC service"),
                          ("subtype", "B", "", None, None, "TC subtype"),
                          ("code", "H", "enum", None, None, "failure code")), "a telecommand was refused"),
    (16, "HW_CUTOFF", HIGH, (_E_SLOT,), "hardware timer cut a burn the loop did not end"),
    (17, "PARAM_CHANGED", INFO, (("id", "H", "", None, None, "parameter"), ("value", "I", "", None, None, "new value")),
     "parameter set and persisted"),
    (18, "TIME_CORRELATED", INFO, (), "on-board time set from ground"),
    (19, "SCHEDULE_RELEASED", INFO, (_RID,), "a time-tagged command was released"),
    (20, "SCHEDULE_CLEARED", MEDIUM, (("count", "B", "", None, None, "entries dropped"),),
     "schedule emptied by SCHED_RESET or SAFE"),
    (21, "STORAGE_ERROR", HIGH, (("record", "B", "", None, None, "record that failed to save"),),
     "writing flash failed"),
    (22, "RECORD_MISSING", INFO, (("record", "B", "", None, None, "1 state, 2 parameters, 3 schedule"),),
     "no stored record (first boot, or flash formatted): safe defaults used"),
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


def fmt(fields):
    """The struct format of a fixed field list (no "tc" or "*" field)."""
    return ">" + "".join(f[1] for f in fields)


def persisted(c):
    """True if command ``c`` (a COMMANDS entry) runs at most once across a power loss."""
    return c[4] or c[0] in STATE_CHANGING


def command(name):
    """The COMMANDS entry named ``name``, or None."""
    for c in COMMANDS:
        if c[0] == name:
            return c
    return None


def command_for(service, subtype, function_id):
    """The COMMANDS entry for a TC header (function_id 0 outside PUS 8), or None."""
    for c in COMMANDS:
        if c[1] == service and c[2] == subtype and c[3] == function_id:
            return c
    return None


def parameter(pid):
    """The PARAMETERS entry with id ``pid``, or None."""
    for p in PARAMETERS:
        if p[0] == pid:
            return p
    return None


def event(eid):
    """The EVENTS entry with id ``eid``, or None."""
    if 1 <= eid <= len(EVENTS):
        return EVENTS[eid - 1]
    return None
