"""Exhaustive exploration of the controller: ``make explore`` (``python -m tests.explore``).

Explicit-state, breadth-first search over the real firmware (``firmware.app.App``: Services,
Sequencer, State, Schedule, Switches, Params, Clock, Store) on the tests' fake board, with a
plant (satellites, switches that bounce or stick, current only when every hardware inhibit
allows it), the backup SRAM and a flash in RAM where power can fail in any write (the
firmware's own persistence rules decide what goes where), and a clock moved by hand
(tests/explore/world.py). From the first boot, every enabled event is tried in every state;
each state is checked against the plant's truth; a violation is reported with the shortest
event sequence that reaches it, printed as a pytest test that replays it (search.replay).

Events: ARM, DISARM, ABORT, SAFE, FIRE s, FIRE_SEQUENCE (every named slot, spacing 0 or 1 s),
TIME_SET (to ground time), SCHED_ENABLE, SCHED_DISABLE, SCHED_INSERT (release 1 s ahead) of a
new ARM or FIRE s, or of a byte-for-byte copy of an earlier hazardous telecommand (the last ARM,
the last FIRE or FIRE_SEQUENCE: the schedule replay of issue 11); PARAM_SET of each safety parameter
to its range ends and default; a byte-identical resend of the last ARM, the last FIRE or
FIRE_SEQUENCE (a nested one included) and the last SCHED_INSERT; a burst of N_RECENT PINGs
(enough to push older request ids out of the record); RBF in/out, permit off/on, an arm line
that stops reading back; a satellite leaving (during a burn, or on its own: an early release);
a switch chatter while it settles (SETTLE_MS after a release under current), a switch stuck
at either level; time advancing to the next deadline, or to 1 ms before it; a reset and a power
cut, between two events or inside any flash write of any event (after a power cut the board
boots without VBAT: the backup SRAM is lost, the records come from the flash; a reset keeps it).
In a scope with an attacker (``replay``, ``alter``) key 1 is in use from the first boot and the
operator signs every command (ground/auth.py; one refused AUTH_REPLAY after a power cut is signed
a lease further on and sent again, as ground/client.py does); the attacker keeps the last packet
of each command kind the operator sent (but PING, ABORT and SAFE: bounded by the scope's
commands) and delivers it again byte for byte (replay), or a copy with one field changed and its
CRC redone (alter, world.py ALTERATIONS: the sequence count; the counter; the last byte of the
application data, ARM's function id; the key id, to the installed idle key 2; a MAC byte; the
trailer removed), each under a sequence count and (but the first) a counter that are new to the
payload, so that neither the request-id record nor the windows refuse it: only the MAC can.

Invariants, after every event (world.py ``current``, ``_check``, ``_executed``, the fake
board's own checks): at most one actuator on; no current unless RBF is out, permit on, the
arm line on and a FIRE naming the slot started since boot; no actuator left on with an
inhibit missing after a loop iteration; no current in a slot whose satellite has left while
its switch works (a stuck switch cannot tell: then only the burn count is checked); every
on-time <= BURN_MAX when it started, and the cutoff armed at no more; current intervals per
slot <= 1 + RETRIES, over every boot; after a reset, SAFE with every output off; a slot the
firmware reported RELEASED stays RELEASED (across a power cut, once its record reached the flash:
one queued behind a burn, when no flash write may happen, is lost with the backup SRAM and
resolved again by the slot's switch); a request id's handler runs at most once, over
the link, the schedule, resets and power cuts (a restart that undid the step in which it
ran voids that run unless the record holding it survived: on flash, or after a reset in the
backup SRAM); the firmware never raises; no packet of the attacker reaches a handler (ABORT and
SAFE excepted: unrecorded with a key in use, anyone may send them), so a replay is answered
DUPLICATE or refused and an altered copy refused.

The abstract state (world.py ``key``), whose hash the visited set holds:
- controller: sequencer state, slot, slots pending and unreleased, spacing, whether the wait
  is a spacing, arm output, the running command (which remembered TC, another, none);
- switches: raw and debounced levels, the slot the sequencer judges;
- state record: slot states and burn counts; per remembered TC, its recorded outcome and
  whether its sequence count is stale (not the counts or request ids themselves);
- with an attacker, per packet heard: the event, whether its request id ran, its recorded
  outcome, whether its sequence count is stale and its counter judged a replay (by the AUTH
  record in RAM, and by the one on flash: after a power cut); whether the operator's next counter
  writes a lease, and whether it is judged a replay after a power cut (not the counters);
- the five safety parameters; schedule enabled, time correlated, each entry (which
  remembered TC, else its content) and whether it ran;
- board and plant: actuator, arm output and its fault, RBF, permit; per slot how its
  satellite left, its reading while settling, stuck level, chatters, current intervals;
- the path: slots the firmware reported RELEASED, slots fired since boot, resets and faults
  used; the records queued for the flash, and where the flash holds other records than RAM (the
  state record between persisted saves), what a power cut would boot into, abstracted as above;
- time, as the order of the pending deadlines (burn end, cooldown end, arm window, hardware
  cutoff, each debounce, each switch settling in the plant and in the firmware's eyes after a
  burn, each due schedule entry, the next iteration
  when a released FIRE waits for it): equal ones together, past ones apart, and whether the
  next one is 1 ms away. No raw clock value is hashed: not the board's ticks, the CDS time,
  the boot count, sequence counts, telemetry or counters that only housekeeping reports.

Bounds (tests/explore/scopes.py): the slots events name (the others stay aboard, switches
working), the parameter values above, one reset or power cut per path (inside flash writes
too, but in the quick forms), one fault per path
(stuck switch, early release, arm-line fault), two chatters per release, the depth. Two
states whose deadlines come in the same order at different distances hash alike, and only
the first found is explored: that is what "time as an order" gives up. Each interval
between deadlines is tried at both ends (advance, approach).

Not through the explorer (tested elsewhere): telecommands go to ``Services.on_packet``, not
through the UART and the deframer; telemetry is packed but not framed or sent.
"""
