"""Compact command and telemetry tables for the firmware.

GENERATED from firmware/dictionary.py by `make icd` (python -m ground.tablegen):
do not edit; CI fails if this file is stale. Read dictionary.py for meanings.
"""

from micropython import const

ABORTED = const(13)
APID = const(193)
ARMED = const(1)
ARM_LINE_OFF = const(7)
ARM_WINDOW_EXPIRED = const(9)
BAD_ARGUMENT = const(3)
BAD_LENGTH = const(2)
BUSY = const(10)
COOLDOWN = const(3)
DUPLICATE = const(4)
EV_ABORTED = const(14)
EV_ARMED = const(3)
EV_ARM_LOST = const(5)
EV_BOOT = const(1)
EV_BURN_END = const(7)
EV_BURN_START = const(6)
EV_DISARMED = const(4)
EV_EARLY_RELEASE = const(10)
EV_HW_CUTOFF = const(16)
EV_PARAM_CHANGED = const(17)
EV_RECORD_CORRUPT = const(2)
EV_RECORD_MISSING = const(22)
EV_REFUSED = const(15)
EV_RELEASED = const(8)
EV_SCHEDULE_CLEARED = const(20)
EV_SCHEDULE_RELEASED = const(19)
EV_SLOT_FAILED = const(9)
EV_SLOT_RESOLVED = const(13)
EV_SLOT_UNKNOWN = const(12)
EV_STORAGE_ERROR = const(21)
EV_SWITCH_BOUNCE = const(11)
EV_TIME_CORRELATED = const(18)
EXECUTING = const(20)
FAILED = const(3)
FIRING = const(2)
GROUND_ID = const(1)
HIGH = const(4)
HK_SID = const(1)
INFO = const(1)
IN_ARM_LINE = const(4)
IN_PERMIT = const(2)
IN_RBF_REMOVED = const(1)
LOW = const(2)
MAX_TC_DATA = const(200)
MAX_TM_DATA = const(200)
MEDIUM = const(3)
NOT_ARMED = const(8)
NOT_CONFIRMED = const(14)
NO_PERMIT = const(6)
N_SLOTS = const(4)
P_ARM_WINDOW = const(1)
P_BURN_MAX = const(2)
P_COOLDOWN = const(4)
P_DEBOUNCE = const(5)
P_HK_ENABLED = const(7)
P_HK_PERIOD = const(6)
P_RETRIES = const(3)
RBF_INSERTED = const(5)
RELEASED = const(2)
SAFE = const(0)
SCHEDULE_FULL = const(15)
SCHEDULE_NOT_FOUND = const(16)
SCHEDULE_SIZE = const(8)
SLOT_FIRING = const(1)
SLOT_NOT_STOWED = const(12)
SLOT_RELEASED = const(11)
STALE = const(22)
STORAGE = const(19)
STOWED = const(0)
TIME_NOT_CORRELATED = const(21)
TIME_PAST = const(17)
UNKNOWN = const(4)
UNKNOWN_COMMAND = const(1)
UNKNOWN_PARAMETER = const(18)

# Commands: (service, subtype, function_id, hazardous, argument format after the
# function id, lows, highs, tail); tail = 1 when a whole TC follows the arguments.
COMMANDS = (
    (17, 1, 0, 0, '>', (), (), 0),  # 0 PING
    (3, 5, 0, 0, '>H', (1,), (1,), 0),  # 1 HK_ENABLE
    (3, 6, 0, 0, '>H', (1,), (1,), 0),  # 2 HK_DISABLE
    (3, 27, 0, 0, '>H', (1,), (1,), 0),  # 3 HK_ONE_SHOT
    (3, 31, 0, 0, '>HI', (1, 0), (1, 60000), 0),  # 4 HK_PERIOD
    (8, 1, 1, 1, '>', (), (), 0),  # 5 ARM
    (8, 1, 2, 0, '>', (), (), 0),  # 6 DISARM
    (8, 1, 3, 1, '>B', (1,), (4,), 0),  # 7 FIRE
    (8, 1, 4, 1, '>BH', (1, 0), (15, 600), 0),  # 8 FIRE_SEQUENCE
    (8, 1, 5, 0, '>', (), (), 0),  # 9 ABORT
    (8, 1, 6, 0, '>', (), (), 0),  # 10 SAFE
    (9, 128, 0, 0, '>HI', (0, 0), (65535, 86399999), 0),  # 11 TIME_SET
    (9, 129, 0, 0, '>', (), (), 0),  # 12 TIME_REPORT
    (11, 1, 0, 0, '>', (), (), 0),  # 13 SCHED_ENABLE
    (11, 2, 0, 0, '>', (), (), 0),  # 14 SCHED_DISABLE
    (11, 3, 0, 0, '>', (), (), 0),  # 15 SCHED_RESET
    (11, 4, 0, 0, '>HI', (0, 0), (65535, 86399999), 1),  # 16 SCHED_INSERT
    (11, 5, 0, 0, '>I', (0,), (4294967295,), 0),  # 17 SCHED_DELETE
    (11, 16, 0, 0, '>', (), (), 0),  # 18 SCHED_LIST
    (20, 1, 0, 0, '>H', (1,), (7,), 0),  # 19 PARAM_GET
    (20, 3, 0, 0, '>HI', (1, 0), (7, 4294967295), 0),  # 20 PARAM_SET
)
CMD_PING = const(0)
CMD_HK_ENABLE = const(1)
CMD_HK_DISABLE = const(2)
CMD_HK_ONE_SHOT = const(3)
CMD_HK_PERIOD = const(4)
CMD_ARM = const(5)
CMD_DISARM = const(6)
CMD_FIRE = const(7)
CMD_FIRE_SEQUENCE = const(8)
CMD_ABORT = const(9)
CMD_SAFE = const(10)
CMD_TIME_SET = const(11)
CMD_TIME_REPORT = const(12)
CMD_SCHED_ENABLE = const(13)
CMD_SCHED_DISABLE = const(14)
CMD_SCHED_RESET = const(15)
CMD_SCHED_INSERT = const(16)
CMD_SCHED_DELETE = const(17)
CMD_SCHED_LIST = const(18)
CMD_PARAM_GET = const(19)
CMD_PARAM_SET = const(20)
# Bit i set: command i is persisted (dictionary.persisted)
PERSISTED = const(0x13E5B6)

# Parameters: (id, lo, hi, default)
PARAMETERS = (
    (1, 5, 3600, 60),  # ARM_WINDOW
    (2, 100, 10000, 3000),  # BURN_MAX
    (3, 0, 5, 2),  # RETRIES
    (4, 500, 60000, 5000),  # COOLDOWN
    (5, 10, 1000, 50),  # DEBOUNCE
    (6, 0, 60000, 1000),  # HK_PERIOD
    (7, 0, 1, 1),  # HK_ENABLED
)

# Events by id - 1: severity (PUS 5 subtype) and the format of the fields after the id
EVENT_SEVERITY = b'\x01\x03\x01\x01\x03\x01\x01\x01\x04\x03\x02\x04\x01\x04\x02\x04\x01\x01\x01\x03\x04\x01'
EVENT_FORMATS = ('>HB', '>B', '>H', '>H', '>H', '>BB', '>BBHB', '>BB', '>BB', '>B', '>B', '>B', '>BB', '>B', '>BBH', '>B', '>HI', '>', '>I', '>B', '>B', '>B')
HK_FORMAT = '>HBBBBBHBBBHHHHHHIHBhIBH'
# Telemetry packets: service << 8 | subtype
TM_ACCEPTED = const(0x0101)
TM_ACCEPT_FAILED = const(0x0102)
TM_STARTED = const(0x0103)
TM_START_FAILED = const(0x0104)
TM_PROGRESS = const(0x0105)
TM_PROGRESS_FAILED = const(0x0106)
TM_COMPLETED = const(0x0107)
TM_COMPLETION_FAILED = const(0x0108)
TM_HK = const(0x0319)
TM_EVENT_INFO = const(0x0501)
TM_EVENT_LOW = const(0x0502)
TM_EVENT_MEDIUM = const(0x0503)
TM_EVENT_HIGH = const(0x0504)
TM_TIME = const(0x0982)
TM_SCHEDULE = const(0x0B0A)
TM_PONG = const(0x1102)
TM_PARAM = const(0x1402)
