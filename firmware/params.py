"""On-board parameters (PUS 20): range-checked, persisted (to flash) as record 2.

Layout: one u32 per PARAMETERS entry, in dictionary order. A missing or
corrupt record gives every parameter its default (saved at once); a stored value outside its
range (a newer dictionary narrowed it) also falls back to the default.
"""

import struct

from firmware.store import REC_PARAMS
from firmware.tables import BAD_ARGUMENT, EV_PARAM_CHANGED, PARAMETERS, STORAGE


class Params:
    def __init__(self, store, tm):
        self._store = store
        self._tm = tm
        self._buf = bytearray(4 * len(PARAMETERS))
        self.values = [p[3] for p in PARAMETERS]
        if store.load(REC_PARAMS, self._buf):
            for i, p in enumerate(PARAMETERS):
                v = struct.unpack_from(">I", self._buf, 4 * i)[0]
                if p[1] <= v <= p[2]:
                    self.values[i] = v
        else:
            self._save()  # the defaults, so the next boot finds a good record

    def get(self, pid):
        """Value of parameter ``pid`` (ids are 1-based indices into PARAMETERS)."""
        return self.values[pid - 1]

    def set(self, pid, value):
        """Set and persist; 0 or the failure code (nothing changes on failure).

        ``pid`` is valid: PARAM_SET's own range check refused any other id.
        """
        p = PARAMETERS[pid - 1]
        if not p[1] <= value <= p[2]:
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
