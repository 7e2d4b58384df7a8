"""On-board parameters (PUS 20): range-checked, persisted (to flash) as record 2.

Layout: one u32 per parameter, in id order. A missing or
corrupt record gives every parameter its default (saved at once); a stored value outside its
range (a newer dictionary narrowed it) also falls back to the default.
"""

import struct

from firmware.tables import BAD_ARGUMENT, EV_PARAM_CHANGED, PARAM_DEFAULT, PARAM_HI, PARAM_LO, REC_PARAMS, STORAGE


class Params:
    def __init__(self, store, tm):
        self._store = store
        self._tm = tm
        self._buf = bytearray(4 * len(PARAM_DEFAULT))
        self.values = list(PARAM_DEFAULT)
        if store.load(REC_PARAMS, self._buf):
            for i in range(len(PARAM_DEFAULT)):
                v = struct.unpack_from(">I", self._buf, 4 * i)[0]
                if PARAM_LO[i] <= v <= PARAM_HI[i]:
                    self.values[i] = v
        else:
            self._save()  # the defaults, so the next boot finds a good record

    def get(self, pid):
        """Value of parameter ``pid`` (ids count from 1, in the order of the PARAM_* columns)."""
        return self.values[pid - 1]

    def set(self, pid, value):
        """Set and persist; 0 or the failure code (nothing changes on failure).

        ``pid`` is valid: PARAM_SET's own range check refused any other id.
        """
        if not PARAM_LO[pid - 1] <= value <= PARAM_HI[pid - 1]:
            return BAD_ARGUMENT
        old = self.values[pid - 1]
        self.values[pid - 1] = value
        if not self._save():
            self.values[pid - 1] = old
            return STORAGE
        self._tm.event(EV_PARAM_CHANGED, pid, value)
        return 0

    def _save(self):
        for i, v in enumerate(self.values):
            struct.pack_into(">I", self._buf, 4 * i, v)
        return self._store.save(REC_PARAMS, self._buf, True)
