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
AUTH_KEY = const(26)
AUTH_MAC = const(27)
AUTH_MISSING = const(24)
AUTH_REPLAY = const(28)
AUTH_TRUNCATED = const(25)
BAD_ARGUMENT = const(3)
BAD_LENGTH = const(2)
BUSY = const(10)
COOLDOWN = const(3)
DUPLICATE = const(4)
END_ABORT = const(2)
END_MAX_TIME = const(1)
END_SWITCH = const(0)
EV_ABORTED = const(14)
EV_ARMED = const(3)
EV_ARM_LOST = const(5)
EV_BOOT = const(1)
EV_BURN_END = const(7)
EV_BURN_START = const(6)
EV_DISARMED = const(4)
EV_EARLY_RELEASE = const(10)
EV_HW_CUTOFF = const(16)
EV_KEY_CHANGED = const(24)
EV_PARAM_CHANGED = const(17)
EV_RECORD_CORRUPT = const(2)
EV_RECORD_MISSING = const(22)
EV_REFUSED = const(15)
EV_RELEASED = const(8)
EV_SCHEDULE_CLEARED = const(20)
EV_SCHEDULE_RELEASED = const(19)
EV_SENSOR_INVALID = const(23)
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
HK_SID = const(1)
IN_ARM_LINE = const(4)
IN_PERMIT = const(2)
IN_RBF_REMOVED = const(1)
KEY_ACTIVE = const(2)
KEY_LEASE = const(1024)
KEY_REVOKED = const(3)
MAC_LEN = const(16)
MAX_TC_DATA = const(200)
MAX_TM_DATA = const(200)
NOT_ARMED = const(8)
NOT_CONFIRMED = const(14)
NO_PERMIT = const(6)
N_KEYS = const(4)
N_SLOTS = const(4)
P_ARM_WINDOW = const(1)
P_BURN_MAX = const(2)
P_COOLDOWN = const(4)
P_DEBOUNCE = const(5)
P_HK_ENABLED = const(7)
P_HK_PERIOD = const(6)
P_RETRIES = const(3)
RBF_INSERTED = const(5)
REC_AUTH = const(4)
REC_PARAMS = const(2)
REC_SCHEDULE = const(3)
REC_STATE = const(1)
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
SWITCH_SETTLE_MS = const(100)
SWITCH_SETTLING = const(23)
TEMP_INVALID = const(-32768)
TIME_NOT_CORRELATED = const(21)
TIME_PAST = const(17)
TRAILER_LEN = const(21)
UNKNOWN = const(4)
UNKNOWN_COMMAND = const(1)
UNKNOWN_PARAMETER = const(18)

# Commands by index (CMD_*), one column each: PUS service, subtype, function id (PUS 8,
# else 0), data length (function id and arguments), 1 when a whole TC follows the
# arguments, the arguments' struct format, their lower and upper limits (None: the wire type's),
# 1 when the command is persisted (dictionary.persisted: on flash before it acts).
#    0 PING           17   1 0 '>'
#    1 HK_ENABLE       3   5 0 '>H'
#    2 HK_DISABLE      3   6 0 '>H'
#    3 HK_ONE_SHOT     3  27 0 '>H'
#    4 HK_PERIOD       3  31 0 '>HI'
#    5 ARM             8   1 1 '>'
#    6 DISARM          8   1 2 '>'
#    7 FIRE            8   1 3 '>B'
#    8 FIRE_SEQUENCE   8   1 4 '>BH'
#    9 ABORT           8   1 5 '>'
#   10 SAFE            8   1 6 '>'
#   11 KEY_ACTIVATE    8   1 7 '>B'
#   12 KEY_REVOKE      8   1 8 '>B'
#   13 TIME_SET        9 128 0 '>HI'
#   14 TIME_REPORT     9 129 0 '>'
#   15 SCHED_ENABLE   11   1 0 '>'
#   16 SCHED_DISABLE  11   2 0 '>'
#   17 SCHED_RESET    11   3 0 '>'
#   18 SCHED_INSERT   11   4 0 '>HI'
#   19 SCHED_DELETE   11   5 0 '>I'
#   20 SCHED_LIST     11  16 0 '>'
#   21 PARAM_GET      20   1 0 '>H'
#   22 PARAM_SET      20   3 0 '>HI'
CMD_SERVICE = b'\x11\x03\x03\x03\x03\x08\x08\x08\x08\x08\x08\x08\x08\t\t\x0b\x0b\x0b\x0b\x0b\x0b\x14\x14'
CMD_SUBTYPE = b'\x01\x05\x06\x1b\x1f\x01\x01\x01\x01\x01\x01\x01\x01\x80\x81\x01\x02\x03\x04\x05\x10\x01\x03'
CMD_FUNCTION = b'\x00\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
CMD_LEN = b'\x00\x02\x02\x02\x06\x02\x02\x03\x05\x02\x02\x03\x03\x06\x00\x00\x00\x00\x06\x04\x00\x02\x06'
CMD_TAIL = b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00'
CMD_FORMAT = ('>', '>H', '>H', '>H', '>HI', '>', '>', '>B', '>BH', '>', '>', '>B', '>B', '>HI', '>', '>', '>', '>', '>HI', '>I', '>', '>H', '>HI')
CMD_LO = ((), (1,), (1,), (1,), (1, 0), (), (), (1,), (1, 0), (), (), (1,), (1,), (0, 0), (), (), (), (), (0, 0), (0,), (), (1,), (1, 0))
CMD_HI = ((), (1,), (1,), (1,), (1, 60000), (), (), (4,), (15, 600), (), (), (4,), (4,), (None, 86399999), (), (), (), (), (None, 86399999), (None,), (), (7,), (7, None))
CMD_PERSISTED = b'\x00\x01\x01\x00\x01\x01\x00\x01\x01\x00\x01\x01\x01\x00\x00\x01\x01\x01\x01\x01\x00\x00\x01'
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
CMD_KEY_ACTIVATE = const(11)
CMD_KEY_REVOKE = const(12)
CMD_TIME_SET = const(13)
CMD_TIME_REPORT = const(14)
CMD_SCHED_ENABLE = const(15)
CMD_SCHED_DISABLE = const(16)
CMD_SCHED_RESET = const(17)
CMD_SCHED_INSERT = const(18)
CMD_SCHED_DELETE = const(19)
CMD_SCHED_LIST = const(20)
CMD_PARAM_GET = const(21)
CMD_PARAM_SET = const(22)

# Parameters by id - 1: lower and upper limits, default
PARAM_LO = (5, 100, 0, 500, 10, 0, 0)
PARAM_HI = (3600, 10000, 5, 60000, 1000, 60000, 1)
PARAM_DEFAULT = (60, 3000, 2, 5000, 50, 1000, 1)

# Events by id - 1: severity (PUS 5 subtype) and the format of the fields after the id
EVENT_SEVERITY = b'\x01\x03\x01\x01\x03\x01\x01\x01\x04\x03\x02\x04\x01\x04\x02\x04\x01\x01\x01\x03\x04\x01\x03\x03'
EVENT_FORMATS = ('>HB', '>B', '>H', '>H', '>H', '>BB', '>BBHB', '>BB', '>BB', '>B', '>B', '>B', '>BB', '>B', '>BBH', '>B', '>HI', '>', '>I', '>B', '>B', '>B', '>', '>BB')
HK_FORMAT = '>HBBBBBHBBBHHHHHHIHBhIBHH'
# Telemetry packets: service << 8 | subtype; a PUS 1 or PUS 5 report by its family's first,
# to which the firmware adds the verification stage or the severity
TM_ACCEPTED = const(0x0101)
TM_HK = const(0x0319)
TM_EVENT_INFO = const(0x0501)
TM_TIME = const(0x0982)
TM_SCHEDULE = const(0x0B0A)
TM_PONG = const(0x1102)
TM_PARAM = const(0x1402)
