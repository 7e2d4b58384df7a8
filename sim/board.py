"""The simulated board: the board contract (docs/ARCHITECTURE.md) under the MicroPython unix port.

Runs inside ``micropython``; sim/hardware.py (CPython) is the rest of the hardware and
serves two loopback sockets that this board connects to at boot:

- uart: the ground link, raw bytes both ways (pacing, latency and noise are done there);
- io:   one short line per event, ASCII::

      board -> hardware                      hardware -> board
      A0 | A1        arm-enable off / on     I<bits>     inputs: bit 0 RBF removed, bit 1 permit,
      L0 | L1        status LED off / on                 bit 2+i switch of slot i reads released
      B<slot> <ms>   energise, start cutoff  X           the hardware cutoff ended the burn
      C              every actuator off      P<n> <b>    lose power during the n-th flash write
      F              feed the watchdog                   from now, after b bytes of it (P0 0: disarm)
      W              power lost mid-write (then hang until killed)
      R              reset requested (then hang until killed)

Inputs are pushed on change and cached, so pin reads cost nothing. The flash is littlefs
on a file-backed block device: power cuts interrupt real littlefs writes.
"""

import gc
import select
import socket
import time

import vfs
from micropython import const

_BLOCK = const(512)
_FLASH_BLOCKS = const(256)  # 128 KiB; sim/hardware.py creates the file this size
FS_ROOT = "/flash"
_IN_RBF = const(1)
_IN_PERMIT = const(2)
_IN_SWITCH0 = const(2)  # bit shift of slot 0's switch
_TEMPERATURE = const(250)  # 25.0 degC: the lab
_IPPROTO_TCP = const(6)  # Linux values; the unix port does not name them
_TCP_NODELAY = const(1)


class _Flash:
    """A littlefs block device (extended interface) on a file; counts down to a power cut."""

    def __init__(self, path, board):
        self._f = open(path, "r+b")  # noqa: SIM115  (open for the life of the board)
        self._board = board
        self.cut_at = 0  # writes to go before the power cut, 0 = none
        self.cut_bytes = 0

    def readblocks(self, block, buf, offset=0):
        self._f.seek(block * _BLOCK + offset)
        self._f.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self._board.poll_io()
        self._f.seek(block * _BLOCK + offset)
        if self.cut_at:
            self.cut_at -= 1
            if not self.cut_at:
                self._f.write(memoryview(buf)[: min(self.cut_bytes, len(buf))])
                self._f.flush()
                self._board.halt(b"W\n")
        self._f.write(buf)
        self._f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return _FLASH_BLOCKS
        if op == 5:  # block size
            return _BLOCK
        return 0  # init, sync, deinit, erase: nothing to do on a file


class _Uart:
    """The ground link: non-blocking ``readinto``, ``write(buf, n)``."""

    def __init__(self, sock, baud):
        self._s = sock
        self.baud = baud

    def readinto(self, buf):
        return self._s.readinto(buf)

    def write(self, buf, n):
        mv = memoryview(buf)
        sent = 0
        while sent < n:
            sent += self._s.write(mv[sent:n]) or 0


def _connect(port):
    s = socket.socket()
    s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)  # io lines are tiny: no Nagle delay
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    s.setblocking(False)
    return s


class Board:
    def __init__(self, io_port, uart_port, reset_cause, flash_path, baud):
        self._io = _connect(io_port)
        self._io_rx = b""
        self._inputs = -1  # until the hardware sends them
        self._arm = self._led = False
        self._burning = -1
        self._cause = reset_cause
        self._send(b"A0\nC\nL0\n")  # every output off before anything else runs
        self._io.setblocking(True)
        while self._inputs < 0:  # the hardware answers with any pending P line, then I
            self._apply_lines(self._io.read(1))
        self._io.setblocking(False)
        self.uart = _Uart(_connect(uart_port), baud)
        self._poll = select.poll()
        self._poll.register(self._io, select.POLLIN)
        self._poll.register(self.uart._s, select.POLLIN)
        self._flash = _Flash(flash_path, self)
        self.fs_root = FS_ROOT
        self.ticks_ms = time.ticks_ms
        self.ticks_diff = time.ticks_diff
        self.heap_free = gc.mem_free
        self._mount()

    def _mount(self):
        try:
            fs = vfs.VfsLfs2(self._flash)
        except OSError:  # blank or unreadable flash: format, as the board's first boot does
            vfs.VfsLfs2.mkfs(self._flash)
            fs = vfs.VfsLfs2(self._flash)
        vfs.mount(fs, FS_ROOT)

    # --- the board contract (ticks_ms, ticks_diff, heap_free: bound in __init__) ----
    def idle(self, ms):
        for obj, _ in self._poll.ipoll(ms):
            if obj is self._io:
                self.poll_io()
            else:
                return

    def rbf_removed(self):
        return bool(self._inputs & _IN_RBF)

    def permit(self):
        return bool(self._inputs & _IN_PERMIT)

    def switch(self, slot):
        return bool(self._inputs >> (_IN_SWITCH0 + slot) & 1)

    def set_arm(self, on):
        self._arm = bool(on)
        self._send(b"A1\n" if on else b"A0\n")

    def arm_line(self):
        return self._arm

    def burn(self, slot, max_ms):
        self._burning = slot
        self._send(b"B%d %d\n" % (slot, max_ms))

    def cut(self):
        self._burning = -1
        self._send(b"C\n")

    def burning(self):
        return self._burning

    def set_led(self, on):
        if on != self._led:  # the app sets it every loop: tell the hardware only changes
            self._led = on
            self._send(b"L1\n" if on else b"L0\n")

    def feed(self):
        self._send(b"F\n")

    def reset_cause(self):
        return self._cause

    def temperature(self):
        return _TEMPERATURE

    def reset(self):
        self.halt(b"R\n")

    # --- the io channel -------------------------------------------------------------
    def poll_io(self):
        """Apply what the hardware pushed (inputs, cutoff, power-cut arming)."""
        while True:
            data = self._io.read(64)
            if not data:
                return
            self._apply_lines(data)

    def _apply_lines(self, data):
        *lines, self._io_rx = (self._io_rx + data).split(b"\n")
        for line in lines:
            self._apply(line)

    def _apply(self, line):
        kind = line[:1]
        if kind == b"I":
            self._inputs = int(line[1:])
        elif kind == b"X":
            self._burning = -1
        elif kind == b"P":
            n, nbytes = line[1:].split()
            self._flash.cut_at = int(n)
            self._flash.cut_bytes = int(nbytes)

    def _send(self, msg):
        self._io.setblocking(True)
        self._io.write(msg)
        self._io.setblocking(False)

    def halt(self, msg):
        """Tell the hardware and wait to be killed (power loss, reset)."""
        self._send(msg)
        while True:
            time.sleep(1)
