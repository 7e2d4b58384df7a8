"""Deployment sequencer: arm, fire one slot at a time, confirm, retry, abort.

Controller states (slot s burning or cooling; "next" = lowest slot left in the
FIRE or FIRE_SEQUENCE, none left = the command completes and ARMED resumes)::

    state        on                                     to             doing
    SAFE         ARM, RBF out, permit, arm line on      ARMED          arm line on, window opens, ARMED
    ARMED        window ends (no command running)       SAFE           arm line off, DISARMED(ARM_WINDOW_EXPIRED)
    ARMED        FIRE/FIRE_SEQUENCE started             FIRING(next)   attempts+1 saved, then burn(s, BURN_MAX)
    FIRING(s)    debounced switch shows released       COOLDOWN(s)    cut, RELEASED, progress, wait spacing
    FIRING(s)    BURN_MAX - margin, or hw cut it        COOLDOWN(s)    cut, BURN_END (+HW_CUTOFF), wait COOLDOWN
    COOLDOWN(s)  switch shows released                  COOLDOWN(s)    RELEASED, progress, wait spacing
    COOLDOWN(s)  wait over, s released or FAILED        FIRING(next)   (none left: completion report, ARMED)
    COOLDOWN(s)  wait over, switch of s not settled     COOLDOWN(s)    wait (the debounce decides: RELEASED, or a retry)
    COOLDOWN(s)  wait over, settled, burns left         FIRING(s)      progress failure, burn again
    COOLDOWN(s)  wait over, 1 + RETRIES burns done      COOLDOWN(s)    progress failure, FAILED, SLOT_FAILED, spacing
    any          next slot's switch not settled         COOLDOWN       wait for it, checked each tick
    not SAFE     RBF in, permit gone or arm line off    SAFE           all off, ARM_LOST(code), command ABORTED
    any          ABORT, SAFE, DISARM                    SAFE           all off, ABORTED or DISARMED

A slot that fails does not stop a sequence: the next slot is fired, each burn
reports progress (step = burns of this command, failure data = slot) and the
completion failure NOT_CONFIRMED carries the bitmask of the slots not released.
The arm window is checked when FIRE is accepted: a started FIRE or sequence runs
to its end (every inhibit still checked each tick), then ARMED lasts as long as
the window does. The loop ends a burn _MARGIN ms before BURN_MAX, so the board's
hardware cutoff at BURN_MAX only acts (HW_CUTOFF) when the loop stalled.

No burn starts on a switch that is not settled (Switches.settled: stowed, debounced
and raw, SWITCH_SETTLE_MS after the slot's last burn or the boot): a satellite that
left during a burn shows on its switch by then, whatever DEBOUNCE and COOLDOWN are,
so no current flows in a slot whose satellite has left (while its switch works). A
FIRE naming such a slot is refused SWITCH_SETTLING; a retry or the next slot of a
sequence waits for it (a switch that never settles holds the command until ABORT).
"""

from micropython import const

from firmware import tables as T

_MARGIN = const(20)  # ms the loop cuts before the hardware would


class Sequencer:
    def __init__(self, board, clock, state, params, switches, verification, tm):
        self._b = board
        self._clock = clock
        self._st = state
        self._p = params
        self._sw = switches
        self._v = verification  # reports the running command's progress and completion
        self._tm = tm
        self.state = T.SAFE
        self.slot = -1
        self.judged = -1  # slot whose switch the sequencer judges (firing or cooling), for Switches.update
        self.last_burn = 0
        self.arm_on = False
        self._reason = 0  # why the last disarm happened (ARM_WINDOW_EXPIRED tells FIRE so)
        self._armed_at = self._t0 = self._wait = 0
        self._pending = self._unreleased = self._spacing = self._burns = 0
        self._done = False  # COOLDOWN is the spacing after a resolved slot
        board.cut()
        board.set_arm(False)

    # --- commands -------------------------------------------------------------
    def arm(self):
        code = self._busy() or self._inputs()
        if code:
            return code
        self._b.set_arm(True)
        if not self._b.arm_line():
            self._b.set_arm(False)
            return T.ARM_LINE_OFF
        self.arm_on = True
        self.state = T.ARMED
        self._armed_at = self._clock.now
        self._reason = 0
        self._tm.event(T.EV_ARMED, self._p.get(T.P_ARM_WINDOW))
        return 0

    def fire(self, mask, spacing_s):
        """Check every inhibit and slot; 0 = the burns start on the next tick, and the command
        is this sequencer's to complete (through Verification)."""
        code = self._busy() or self._inputs() or self._armed(mask)
        if code:
            return code
        self._pending = mask
        self._unreleased = self._burns = 0
        self._spacing = spacing_s * 1000
        return 0

    def abort(self, disarm=False):
        """ABORT, SAFE, DISARM: everything off at once, from any state."""
        was = self.state
        self._stop(0)
        if disarm:
            self._tm.event(T.EV_DISARMED, 0)
        else:
            self._tm.event(T.EV_ABORTED, was)

    def arm_left(self):
        if self.state == T.SAFE:
            return 0
        left = self._p.get(T.P_ARM_WINDOW) - self._clock.since(self._armed_at) // 1000
        return left if left > 0 else 0

    # --- the loop -------------------------------------------------------------
    def tick(self):
        if self.state == T.SAFE:
            return
        code = self._inputs() or (0 if self._b.arm_line() else T.ARM_LINE_OFF)
        if code:
            self._stop(code)
            self._tm.event(T.EV_ARM_LOST, code)
        elif self.state == T.FIRING:
            self._firing()
        elif self.state == T.COOLDOWN:
            self._cooling()
        elif self._pending:
            self._next_slot()
        elif not self.arm_left():
            self._stop(T.ARM_WINDOW_EXPIRED)
            self._tm.event(T.EV_DISARMED, T.ARM_WINDOW_EXPIRED)

    def _firing(self):
        s = self.slot
        if self._sw.level[s] == 1:
            self._end_burn(T.END_SWITCH)
            self._settle(T.RELEASED)
        elif self._b.burning() != s:
            self._end_burn(T.END_MAX_TIME)
            self._tm.event(T.EV_HW_CUTOFF, s + 1)
            self._cool(self._p.get(T.P_COOLDOWN), False)
        elif self._clock.since(self._t0) >= self._p.get(T.P_BURN_MAX) - _MARGIN:
            self._end_burn(T.END_MAX_TIME)
            self._cool(self._p.get(T.P_COOLDOWN), False)

    def _cooling(self):
        s = self.slot
        if not self._done and self._sw.level[s] == 1:
            self._settle(T.RELEASED)
        elif self._clock.since(self._t0) < self._wait:
            return
        elif self._done:
            self._next_slot()
        elif self._sw.settled(s):
            self._v.progress(self._burns, T.NOT_CONFIRMED, s + 1)
            if self._st.attempts[s] > self._p.get(T.P_RETRIES):
                self._settle(T.FAILED)
            else:
                self._burn()

    # --- steps ----------------------------------------------------------------
    def _next_slot(self):
        while self._pending:
            s = 0
            while not self._pending & (1 << s):
                s += 1
            if self._st.slots[s] == T.STOWED and not self._sw.settled(s):
                self._cool(0, True)  # its switch is changing: wait, checked again each tick
                return
            self._pending &= ~(1 << s)
            if self._st.slots[s] == T.STOWED:
                self.slot = self.judged = s
                self._burn()
                return
            if self._st.slots[s] != T.RELEASED:  # went FAILED or UNKNOWN meanwhile
                self._unreleased |= 1 << s
        self.state = T.ARMED  # every slot done: the command completes
        self.slot = -1
        self._v.complete(T.NOT_CONFIRMED if self._unreleased else 0, self._unreleased)

    def _burn(self):
        s = self.slot
        if self._st.attempts[s] > self._p.get(T.P_RETRIES):  # burns bounded across resets
            self._settle(T.FAILED)
            return
        self._st.attempts[s] += 1
        self._st.set_slot(s, T.SLOT_FIRING)  # saved before any current flows
        self._burns += 1
        self._b.cut()
        self._b.burn(s, self._p.get(T.P_BURN_MAX))
        self.state = T.FIRING
        self._t0 = self._b.ticks_ms()  # not the loop's clock: the save above can freeze the board for seconds
        self._tm.event(T.EV_BURN_START, s + 1, self._st.attempts[s])

    def _end_burn(self, why):
        self._b.cut()
        s = self.slot
        self._sw.burned(s)
        self.last_burn = min(self._clock.since(self._t0), self._p.get(T.P_BURN_MAX))
        self._tm.event(T.EV_BURN_END, s + 1, self._st.attempts[s], self.last_burn, why)

    def _settle(self, result):
        """The slot is RELEASED or FAILED: say so, then space out the next one."""
        s = self.slot
        self._st.set_slot(s, result)
        if result == T.RELEASED:
            self._tm.event(T.EV_RELEASED, s + 1, self._st.attempts[s])
            self._v.progress(self._burns)
        else:
            self._tm.event(T.EV_SLOT_FAILED, s + 1, self._st.attempts[s])
            self._unreleased |= 1 << s
        self.judged = -1
        if self._pending and self._spacing:
            self._cool(self._spacing, True)
        else:
            self._next_slot()

    def _cool(self, ms, done):
        self.state = T.COOLDOWN
        self._t0 = self._clock.now
        self._wait = ms
        self._done = done

    def _stop(self, why):
        """All outputs off, SAFE; a running command ends ABORTED with data ``why``."""
        self._b.cut()
        self._b.set_arm(False)
        self.arm_on = False
        if self.state == T.FIRING:
            self._end_burn(T.END_ABORT)
        if self.slot >= 0 and self._st.slots[self.slot] == T.SLOT_FIRING:
            self._st.set_slot(self.slot, T.STOWED)  # its switch still reads stowed
        self._v.complete(T.ABORTED, why)
        self.state = T.SAFE
        self.slot = self.judged = -1
        self._pending = 0
        self._reason = why

    # --- checks ---------------------------------------------------------------
    def _busy(self):
        return T.BUSY if self._pending or self.state == T.FIRING or self.state == T.COOLDOWN else 0

    def _inputs(self):
        if not self._b.rbf_removed():
            return T.RBF_INSERTED
        return 0 if self._b.permit() else T.NO_PERMIT

    def _armed(self, mask):
        """The software inhibits of FIRE: ARMED, arm line, window, every slot STOWED and settled."""
        if self.state != T.ARMED:
            return T.ARM_WINDOW_EXPIRED if self._reason == T.ARM_WINDOW_EXPIRED else T.NOT_ARMED
        if not self._b.arm_line():
            return T.ARM_LINE_OFF
        if not self.arm_left():
            return T.ARM_WINDOW_EXPIRED
        for s in range(T.N_SLOTS):
            if mask & (1 << s):
                st = self._st.slots[s]
                if st != T.STOWED:
                    return self._v.fail(T.SLOT_RELEASED if st == T.RELEASED else T.SLOT_NOT_STOWED, s + 1)
                if not self._sw.settled(s):  # also: not read since boot
                    return self._v.fail(T.SWITCH_SETTLING, s + 1)
        return 0
