"""Separation switches: software debounce, and what a switch change means for its slot.

A raw level counts once it has held for the DEBOUNCE parameter. Until then the
debounced level is -1 (not yet read), which is how a slot left UNKNOWN by a
reset waits for its switch. The sequencer judges the switch of the slot it is firing
(``update``'s ``judged``, Sequencer.judged); for every other slot a debounced change is
judged here:

    slot state  switch now  becomes    event
    UNKNOWN     released    RELEASED   SLOT_RESOLVED
    UNKNOWN     stowed      STOWED     SLOT_RESOLVED (attempts kept: burns stay bounded)
    STOWED      released    RELEASED   EARLY_RELEASE if never fired, else RELEASED (late)
    FAILED      released    RELEASED   RELEASED (late release after the last burn)
    RELEASED    stowed      RELEASED   SWITCH_BOUNCE (a released slot is never fired again)

A switch is settled (``settled``) when it reads stowed, debounced and raw alike, and the
slot's actuator has been off for SWITCH_SETTLE_MS (the boot counts as a burn's end: a reset
may have cut one). A satellite that left during a burn reads released by then, so no burn
starts on a switch that is not settled (firmware/sequencer.py).
"""

from firmware import tables as T


class Switches:
    def __init__(self, board, clock, state, params, tm):
        self._board = board
        self._clock = clock
        self._state = state
        self._params = params
        self._tm = tm
        self.level = [-1] * T.N_SLOTS  # debounced: 1 released, 0 stowed, -1 not yet read
        self._raw = [-1] * T.N_SLOTS
        self._since = [0] * T.N_SLOTS
        self._off = [clock.now] * T.N_SLOTS  # when each actuator last went off (boot: a reset may have cut one)

    def update(self, judged):
        """Sample every switch; judge the debounced changes, but those of slot ``judged`` (the
        sequencer's, or -1)."""
        now = self._clock.now
        hold = self._params.get(T.P_DEBOUNCE)
        for s in range(T.N_SLOTS):
            raw = 1 if self._board.switch(s) else 0
            if raw != self._raw[s]:
                self._raw[s] = raw
                self._since[s] = now
            elif raw != self.level[s] and self._clock.since(self._since[s]) >= hold:
                self.level[s] = raw
                if s != judged:
                    self._judge(s, raw)

    def burned(self, s):
        """Slot ``s``'s actuator just went off: its switch may lag a release for SWITCH_SETTLE_MS."""
        self._off[s] = self._clock.now

    def settled(self, s):
        """True if slot ``s``'s switch shows its satellite aboard beyond doubt (see the module doc)."""
        return (self.level[s] == 0 and self._raw[s] == 0
                and self._clock.since(self._off[s]) >= T.SWITCH_SETTLE_MS)

    def bits(self):
        """Debounced levels as the HK bitmask (1 = released)."""
        m = 0
        for s in range(T.N_SLOTS):
            if self.level[s] == 1:
                m |= 1 << s
        return m

    def _judge(self, s, released):
        st = self._state
        was = st.slots[s]
        if was == T.UNKNOWN:
            st.set_slot(s, T.RELEASED if released else T.STOWED)
            self._tm.event(T.EV_SLOT_RESOLVED, s + 1, st.slots[s])
        elif released and was in (T.STOWED, T.FAILED):
            st.set_slot(s, T.RELEASED)
            ev = T.EV_EARLY_RELEASE if was == T.STOWED and not st.attempts[s] else T.EV_RELEASED
            self._tm.event(ev, s + 1, st.attempts[s])
        elif not released and was == T.RELEASED:
            self._tm.event(T.EV_SWITCH_BOUNCE, s + 1)
