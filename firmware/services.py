"""PUS services: find a telecommand, check it, run it, answer.

Every TC from the link or the schedule goes through ``execute``; what becomes of it (the
reports, the record of its request id) is firmware/verification.py's::

    unknown id                                       -> refused at acceptance
    not signed as required, bad MAC (Verification)   -> refused AUTH_*
    bad length / argument out of range               -> refused at acceptance
    request id or count already seen (Verification) -> refused DUPLICATE, STALE or AUTH_REPLAY
    persisted (or a signed counter's lease due), not SAFE, while an actuator is on
                                                     -> refused BUSY
    accepted (Verification records it)               -> handler runs:
      refused (an inhibit, a slot, ...)              -> its failure code
      done                                           -> 0
      started a burn (FIRE, FIRE_SEQUENCE)           -> RUNNING: the sequencer completes it

A time-tagged TC waits while an actuator is on: releasing it writes the schedule to
flash. Unpacking a TC's arguments allocates a small tuple; nothing else here does.
"""

import struct

from firmware import tables as T
from firmware.packet import CRC_LEN, TC_HEADER, TM_HEADER, Tc, crc16
from firmware.schedule import TC_MAX
from firmware.verification import RUNNING

# PUS service types, read from the dictionary's commands
_PUS_HK = T.CMD_SERVICE[T.CMD_HK_ENABLE]
_PUS_FUNCTION = T.CMD_SERVICE[T.CMD_ARM]  # a u16 function id leads the arguments
_PUS_TIME = T.CMD_SERVICE[T.CMD_TIME_SET]
_PUS_SCHEDULE = T.CMD_SERVICE[T.CMD_SCHED_INSERT]
_PUS_PARAMS = T.CMD_SERVICE[T.CMD_PARAM_SET]
_MIN_TC = TC_HEADER + CRC_LEN  # the shortest TC SCHED_INSERT accepts
# Report layouts (checked against the dictionary by tests/test_firmware_layouts.py)
TIME_FORMAT = ">HIB"
PARAM_FORMAT = ">HI"
SCHEDULE_FORMAT = ">B"
ENTRY_FORMAT = ">IHI"


class Services:
    def __init__(self, board, clock, params, schedule, seq, hk, verification, tm):
        self._board = board
        self._clock = clock
        self._params = params
        self._schedule = schedule
        self._seq = seq
        self._hk = hk
        self._v = verification
        self._tm = tm
        self.tc = Tc()
        self._inner = Tc()
        self._release = bytearray(TC_MAX)  # a scheduled TC is copied here to run
        self._args = ()  # arguments of the current TC

    # --- entry points ---------------------------------------------------------
    def on_packet(self, buf, n):
        """Deframer handler: False for a packet that is not a TC for us."""
        if not self.tc.parse(buf, n) or self.tc.apid != T.APID:
            return False
        self.execute(buf, self.tc, True)
        return True

    def tick(self):
        """Release at most one due time-tagged command (none while an actuator is on)."""
        sch = self._schedule
        i = sch.due(self._clock) if self._board.burning() < 0 else -1
        if i < 0:
            return
        rid = sch.entry(i)[3]
        n = sch.take(i, self._release)
        self._tm.event(T.EV_SCHEDULE_RELEASED, rid)
        if self.tc.parse(self._release, n):
            self.execute(self._release, self.tc, False)  # its count is as old as its insertion

    def execute(self, buf, tc, from_link):
        i = self._find(buf, tc)
        code = T.UNKNOWN_COMMAND if i < 0 else self._check(buf, tc, i, from_link)
        if code:
            self._v.refuse(tc, code)
            return
        self._v.accept(tc, from_link, T.CMD_PERSISTED[i])
        self._v.done(tc, self._run(i, buf, tc, self._args))

    # --- checks ---------------------------------------------------------------
    def _find(self, buf, tc):
        fid = 0
        if tc.service == _PUS_FUNCTION:
            if tc.data_len < 2:
                return -1
            fid = buf[TC_HEADER] << 8 | buf[TC_HEADER + 1]
        for i in range(len(T.CMD_SERVICE)):
            if T.CMD_SERVICE[i] == tc.service and T.CMD_SUBTYPE[i] == tc.subtype and T.CMD_FUNCTION[i] == fid:
                return i
        return -1

    def _check(self, buf, tc, i, from_link):
        """0, or why command ``i`` is refused: its authentication, length, an argument (data = its
        number), its request id (Verification.check), a persisted command while an actuator is on."""
        need = T.CMD_LEN[i]
        extra = tc.data_len - need
        if T.CMD_TAIL[i] and extra >= 6:  # the nested TC's own length (bytes 4-5 of it, + 7)
            extra -= (buf[TC_HEADER + need + 4] << 8 | buf[TC_HEADER + need + 5]) + 7
        code = self._v.authentic(buf, tc, i, extra, from_link)
        if code:
            return code
        if T.CMD_TAIL[i]:  # a whole TC follows the arguments
            ok = need + _MIN_TC <= tc.data_len <= T.MAX_TC_DATA
        else:
            ok = tc.data_len == need
        if not ok:
            return T.BAD_LENGTH
        self._args = args = struct.unpack_from(T.CMD_FORMAT[i], buf, TC_HEADER + (2 if T.CMD_FUNCTION[i] else 0))
        lo, hi = T.CMD_LO[i], T.CMD_HI[i]
        for k in range(len(args)):
            if args[k] < lo[k] or (hi[k] is not None and args[k] > hi[k]):  # None: the wire type bounds it
                return self._v.fail(T.BAD_ARGUMENT, k + 1)
        code = self._v.check(tc, from_link)
        if code:
            return code
        if (T.CMD_PERSISTED[i] or self._v.auth.due) and i != T.CMD_SAFE and self._board.burning() >= 0:
            return T.BUSY  # its record (or a counter's lease) must reach flash before it acts: not during a burn
        return 0

    # --- handlers, one per PUS service: 0 done, a failure code, or RUNNING ----
    def _run(self, i, buf, tc, args):
        svc = T.CMD_SERVICE[i]
        if svc == _PUS_FUNCTION:
            return self._function(i, args)
        if svc == _PUS_HK:
            return self._housekeeping(i, args)
        if svc == _PUS_SCHEDULE:
            return self._scheduling(i, buf, tc, args)
        if svc == _PUS_TIME:
            return self._time(i, args)
        if svc == _PUS_PARAMS:
            return self._parameter(i, args)
        self._tm.send(T.TM_PONG, 0)  # PUS 17: the only command left
        return 0

    def _function(self, i, args):
        seq = self._seq
        if i == T.CMD_ARM:
            return seq.arm()
        if i in (T.CMD_FIRE, T.CMD_FIRE_SEQUENCE):
            mask, spacing = (1 << (args[0] - 1), 0) if i == T.CMD_FIRE else args
            return seq.fire(mask, spacing) or RUNNING
        if i in (T.CMD_KEY_ACTIVATE, T.CMD_KEY_REVOKE):
            return self._v.auth.set(args[0], i == T.CMD_KEY_ACTIVATE)
        seq.abort(i == T.CMD_DISARM)
        if i == T.CMD_SAFE:
            sch = self._schedule
            sch.enabled = False
            return sch.reset()
        return 0

    def _housekeeping(self, i, args):
        if i == T.CMD_HK_ONE_SHOT:
            self._hk.send()
            return 0
        if i == T.CMD_HK_PERIOD:
            return self._params.set(T.P_HK_PERIOD, args[1])
        return self._params.set(T.P_HK_ENABLED, 1 if i == T.CMD_HK_ENABLE else 0)

    def _time(self, i, args):
        c = self._clock
        if i == T.CMD_TIME_SET:
            c.set(args[0], args[1])
            self._tm.event(T.EV_TIME_CORRELATED)
            return 0
        tm = self._tm
        struct.pack_into(TIME_FORMAT, tm.buf, TM_HEADER, c.days, c.ms, 1 if c.correlated else 0)
        tm.send(T.TM_TIME, struct.calcsize(TIME_FORMAT))
        return 0

    def _parameter(self, i, args):
        p = self._params
        if i == T.CMD_PARAM_SET:
            return p.set(args[0], args[1])
        tm = self._tm
        struct.pack_into(PARAM_FORMAT, tm.buf, TM_HEADER, args[0], p.get(args[0]))
        tm.send(T.TM_PARAM, struct.calcsize(PARAM_FORMAT))
        return 0

    def _scheduling(self, i, buf, tc, args):
        sch = self._schedule
        if i == T.CMD_SCHED_INSERT:
            return self._insert(buf, tc, args)
        if i == T.CMD_SCHED_DELETE:
            return sch.delete(args[0])
        if i == T.CMD_SCHED_RESET:
            return sch.reset()
        if i == T.CMD_SCHED_LIST:
            return self._list(sch)
        return sch.enable(i == T.CMD_SCHED_ENABLE)

    def _insert(self, buf, tc, args):
        off = TC_HEADER + 6  # after the release time
        n = tc.data_len - 6
        inner = memoryview(buf)[off:off + n]
        if crc16(inner, n) or not self._inner.parse(inner, n) or self._inner.apid != T.APID:
            return self._v.fail(T.BAD_ARGUMENT, 3)
        if not self._clock.correlated:
            return T.TIME_NOT_CORRELATED
        if self._clock.reached(args[0], args[1]):
            return T.TIME_PAST
        sch = self._schedule
        code = sch.room(n) or self._v.reserve(self._inner)  # room first: a reserved TC never runs elsewhere
        return code or sch.insert(args[0], args[1], buf, off, n)

    def _list(self, sch):
        tm = self._tm
        struct.pack_into(SCHEDULE_FORMAT, tm.buf, TM_HEADER, 1 if sch.enabled else 0)
        n = struct.calcsize(SCHEDULE_FORMAT)
        for i in range(T.SCHEDULE_SIZE):
            used, days, ms, rid = sch.entry(i)
            if used:
                struct.pack_into(ENTRY_FORMAT, tm.buf, TM_HEADER + n, rid, days, ms)
                n += struct.calcsize(ENTRY_FORMAT)
        tm.send(T.TM_SCHEDULE, n)
        return 0
