"""Property test of the deployment safety rules: random commands, switches, inhibits and resets.

Hypothesis drives one application on the fake board and plant with any mix of
telecommands (new ones and exact repeats), inhibit changes, lying switches,
time passing and resets at any instant. After every step the hardware record
of the fake board must show that:

- no actuator current flowed unless RBF was out, permit on and the arm line on;
- never two actuators at once;
- no burn lasted longer than BURN_MAX;
- no slot was burned again after the firmware declared it RELEASED;
- no request id was executed twice (one acceptance, one start at most).
"""

import struct

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from firmware.tables import (
    CMD_ABORT,
    CMD_ARM,
    CMD_DISARM,
    CMD_FIRE,
    CMD_FIRE_SEQUENCE,
    CMD_SAFE,
    N_SLOTS,
    RELEASED,
)
from tests.firmware.fakes import Rig

BURN_MAX = 3000  # the dictionary default; this machine does not change parameters
SLOTS = st.integers(1, N_SLOTS)


class Deployer(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.r = Rig("safety")
        self.sent = []  # every TC packet sent, for exact repeats
        self.released_at = [None] * N_SLOTS  # fake time the firmware first said RELEASED
        self.checked = 0  # reports already counted

    def _send(self, cmd, *args):
        packet = self.r.tc(cmd, *args)
        self.sent.append(packet)
        self.r.send_raw(packet)
        self._step()

    def _step(self, ms=10):
        self.r.run(ms)
        for s in range(N_SLOTS):
            if self.r.app.state.slots[s] == RELEASED and self.released_at[s] is None:
                self.released_at[s] = self.r.board.t

    @rule()
    def arm(self):
        self._send(CMD_ARM)

    @rule(slot=SLOTS)
    def fire(self, slot):
        self._send(CMD_FIRE, slot)

    @rule(mask=st.integers(1, 15), spacing=st.integers(0, 2))
    def fire_sequence(self, mask, spacing):
        self._send(CMD_FIRE_SEQUENCE, mask, spacing)

    @rule(cmd=st.sampled_from([CMD_DISARM, CMD_ABORT, CMD_SAFE]))
    def stop(self, cmd):
        self._send(cmd)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def repeat_a_command(self, data):
        # A retry, or a duplicate from the relay however late: any command sent before.
        self.r.send_raw(data.draw(st.sampled_from(self.sent)))
        self._step()

    @rule(rbf=st.booleans(), permit=st.booleans(), line_fault=st.booleans())
    def inputs(self, rbf, permit, line_fault):
        b = self.r.board
        b.rbf, b.perm, b.arm_fault = rbf, permit, line_fault
        self._step()  # one loop iteration to react, as on the board (10 ms)
        self._assert_inhibits_hold()

    @rule(slot=SLOTS, after=st.one_of(st.none(), st.integers(50, 5000)))
    def satellite(self, slot, after):
        self.r.board.release_after[slot - 1] = after

    @rule(slot=SLOTS)
    def switch_lies(self, slot):
        sw = self.r.board.switches
        sw[slot - 1] = not sw[slot - 1]
        self._step()

    @rule(ms=st.sampled_from([10, 100, 1000, 3000, 10000]))
    def time_passes(self, ms):
        self._step(ms)

    @rule(stall=st.sampled_from([0, 500, 5000]))
    def loop_stalls(self, stall):
        self.r.board.advance(stall)  # no loop iteration: only the hardware cutoff acts
        self._step()

    @rule(cause=st.integers(0, 6), before=st.integers(0, 3000))
    def reset(self, cause, before):
        self.r.board.advance(before)
        self.r.reset(cause)
        self._step()

    # --- invariants -------------------------------------------------------------
    def _assert_inhibits_hold(self):
        b = self.r.board
        if b.on >= 0:
            assert b.rbf and b.perm and b.arm_line(), "current with an inhibit missing"

    @invariant()
    def hardware_rules_hold(self):
        b = self.r.board
        assert b.violations == []
        self._assert_inhibits_hold()
        for _, start, end in b.burns:
            assert end - start <= BURN_MAX
        if b.on >= 0:
            assert b.t - b.start <= BURN_MAX

    @invariant()
    def released_slots_are_never_burned_again(self):
        b = self.r.board
        burns = b.burns + ([(b.on, b.start, b.t)] if b.on >= 0 else [])
        for slot, start, _ in burns:
            t = self.released_at[slot]
            assert t is None or start < t, "slot %d burned after RELEASED" % (slot + 1)
        for s in range(N_SLOTS):
            if self.released_at[s] is not None:
                assert self.r.app.state.slots[s] == RELEASED

    @invariant()
    def each_request_id_runs_at_most_once(self):
        accepted = {}
        started = {}
        for tm in self.r.tms:
            if tm.service == 1:
                rid = struct.unpack(">I", tm.data[:4])[0]
                if tm.subtype == 1:
                    accepted[rid] = accepted.get(rid, 0) + 1
                elif tm.subtype in (3, 4):
                    started[rid] = started.get(rid, 0) + 1
        assert max(accepted.values(), default=0) <= 1
        assert max(started.values(), default=0) <= 1


Deployer.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestDeployerSafety = Deployer.TestCase
