"""The simulated board: the board contract (docs/ARCHITECTURE.md) under the MicroPython unix port.

Runs inside ``micropython``; sim/hardware.py (CPython) is the rest of the hardware and
serves two loopback sockets that this board connects to at boot:

- uart: the ground link, raw bytes both ways (pacing, latency and noise are done there, and
        the receive buffer: the hardware holds back what the firmware has not read, up to
        the board's buffer, and loses the rest; a write blocks the firmware for its line
        time, as the board's does);
- io:   one short line per event, ASCII::

      board -> hardware                      hardware -> board
      A0 | A1        arm-enable off / on     I<bits>     inputs: bit 0 RBF removed, bit 1 permit,
      L0 | L1        status LED off / on                 bit 2+i switch of slot i reads released
      B<slot> <ms>   energise, start cutoff  X           the hardware cutoff ended the burn
      C              every actuator off      P<k> <n> <b>  lose power in the n-th operation of
      F              feed the watchdog                   kind k from now, after b bytes of it:
      E<sector> <ms> erasing flash sector                w block write, e sector erase (right
                     1..4: frozen for ms                 after it), p sector write-back, b backup
      S<ms>          writing a sector back:              SRAM write (P- 0 0: disarm)
                     frozen for ms
      U<nnnn>        read n link bytes (4 digits)
      W              power lost mid-write (then hang until killed)
      R              reset requested (then hang until killed)

Inputs are pushed on change and cached, so pin reads cost nothing. The flash is the
board's: MicroPython's internal-flash block device with its one-sector cache, under a
real littlefs or FAT (_Flash; ``--fs``); the backup SRAM is a file that the hardware
keeps or loses (_Backup). Power cuts interrupt real filesystem writes, sector write-backs and backup writes.
"""

import gc
import os
import select
import socket
import time

import vfs
from micropython import const

_BLOCK = const(512)
# MicroPython's /flash on the NUCLEO-F429ZI: internal-flash sectors 1-4 (stm32f429.ld FLASH_FS,
# 0x08004000, 3 x 16 KiB + 64 KiB), 512-byte blocks; the first block after each sector:
_SECTOR_END = (32, 64, 96, 224)
_BLOCKS = const(224)  # 112 KiB; sim/hardware.py creates the file this size
# Stall per sector size (ms), STM32F429 datasheet (DS9405, flash programming table) at x32
# parallelism, the one MicroPython uses: (16 KiB erase, 64 KiB erase, 16 KiB program,
# 64 KiB program), program = 4096 or 16384 words at 16 us typical, 100 us max.
_TIMING = {"typical": (250, 550, 66, 262), "max": (500, 1100, 410, 1638)}
_STORAGE_TICK_MS = const(512)  # storage.c: the flash IRQ runs every 512 ms of SysTick
_IDLE_FLUSH_MS = const(5000)  # flashbdev.c: a dirty sector is written back 5 s after its last write
BACKUP_SIZE = const(4096)  # the STM32F4 backup SRAM
FS_ROOT = "/flash"
_IN_RBF = const(1)
_IN_PERMIT = const(2)
_IN_SWITCH0 = const(2)  # bit shift of slot 0's switch
_TEMPERATURE = const(250)  # 25.0 degC: the lab
_IPPROTO_TCP = const(6)  # Linux values; the unix port does not name them
_TCP_NODELAY = const(1)


class _Cut:
    """A power cut armed by the hardware: during the n-th operation of one kind, after b bytes."""

    def __init__(self):
        self.kind = b""  # b"w" block write, b"e" sector erase, b"p" sector program, b"b" backup write
        self.n = 0
        self.nbytes = 0

    def due(self, kind):
        """True when this operation is the one the power is lost in."""
        if self.kind != kind:
            return False
        self.n -= 1
        if self.n:
            return False
        self.kind = b""
        return True


class _Flash:
    """MicroPython's internal-flash block device (ports/stm32/flashbdev.c) on a file.

    Writes go to a one-sector RAM cache (CCM RAM on the board; a second file here, lost at
    every reset). The cached sector is written back, first erased as a whole, when a write
    goes to another sector, when the filesystem syncs (littlefs at every commit, so at every
    file close and rename; FAT at every file close) or, on the storage tick, the sector is
    erased 512 ms after it got dirty and written back 5 s after its last write. Between the
    erase and the end of the write-back the sector's blocks exist only in RAM: a reset or a
    power cut there loses all of them, other files included. Erase and program freeze the firmware (code runs from the
    same flash bank) for the datasheet time; the hardware is told and counts the stalls and
    the erases per sector (its burn cutoff, a timer channel on the actuator pin, runs on).
    """

    def __init__(self, path, board, timing, cut):
        self._f = open(path, "r+b")  # noqa: SIM115  (open for the life of the board)
        self._ram = open(path + ".ram", "w+b")  # noqa: SIM115  (the cache: empty at every boot)
        self._open = path + ".wb"  # exists from a sector's erase to the end of its write-back
        self._board = board
        self._t = _TIMING[timing]
        self._buf = bytearray(_BLOCK)
        self._sector = -1
        self._dirty = self._erased = False
        self._last = self._tick_at = 0
        self._cut = cut

    @staticmethod
    def _span(s):
        """(first block, block count) of sector ``s`` (0..3 = sectors 1..4)."""
        first = _SECTOR_END[s - 1] if s else 0
        return first, _SECTOR_END[s] - first

    def readblocks(self, block, buf, offset=0):
        self.tick()
        s = _sector_of(block)
        f = self._ram if s == self._sector else self._f
        first = self._span(s)[0] if s == self._sector else 0
        f.seek((block - first) * _BLOCK + offset)
        f.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self._board.poll_io()
        self.tick()
        s = _sector_of(block)
        if s != self._sector:  # flashbdev.c flash_cache_get_addr_for_write
            self.sync()
            self._load(s)
        if self._cut.due(b"w"):
            self._board.halt(b"W\n")  # the cache is RAM: the write and everything since the last sync are lost
        self._ram.seek((block - self._span(s)[0]) * _BLOCK + offset)
        self._ram.write(buf)
        if not self._dirty:
            now = time.ticks_ms()
            self._tick_at = now + _STORAGE_TICK_MS - now % _STORAGE_TICK_MS
        self._dirty = True
        self._last = time.ticks_ms()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return _BLOCKS
        if op == 5:  # block size
            return _BLOCK
        if op in (2, 3):  # deinit, sync: write the cached sector back now
            self.sync()
        return 0  # init; erase: the internal flash erases per sector, on write-back

    def sync(self):
        if self._dirty:
            if not self._erased:
                self._erase()
            self._program()

    def tick(self):
        """The storage interrupt (flashbdev.c flash_bdev_irq_handler), due every 512 ms."""
        if not self._dirty:
            return
        now = time.ticks_ms()
        if not self._erased and time.ticks_diff(now, self._tick_at) >= 0:
            self._erase()
        elif self._erased and time.ticks_diff(now, self._last) >= _IDLE_FLUSH_MS:
            self._program()

    def _load(self, s):
        first, n = self._span(s)
        self._ram.seek(0)
        for i in range(n):
            self._f.seek((first + i) * _BLOCK)
            self._f.readinto(self._buf)
            self._ram.write(self._buf)
        self._sector = s

    def _erase(self):
        s = self._sector
        first, n = self._span(s)
        ms = self._t[0 if n < 128 else 1]
        self._board.stall(b"E%d %d\n" % (s + 1, ms))
        open(self._open, "w").close()  # the hardware finds it after a reset here: the sector is lost
        for i in range(_BLOCK):
            self._buf[i] = 0xFF
        self._f.seek(first * _BLOCK)
        for _ in range(n):
            self._f.write(self._buf)
        self._f.flush()
        self._erased = True
        time.sleep_ms(ms)
        if self._cut.due(b"e"):
            self._board.halt(b"W\n")

    def _program(self):
        """Write the cache back block by block, the stall spread over the blocks."""
        first, n = self._span(self._sector)
        ms = self._t[2 if n < 128 else 3]
        self._board.stall(b"S%d\n" % ms)
        cut = self._cut.due(b"p")
        self._ram.seek(0)
        for i in range(n):
            self._ram.readinto(self._buf)
            self._f.seek((first + i) * _BLOCK)
            if cut and (i + 1) * _BLOCK > self._cut.nbytes:
                self._f.write(memoryview(self._buf)[: self._cut.nbytes - i * _BLOCK])
                self._f.flush()
                self._board.halt(b"W\n")
            self._f.write(self._buf)
            self._f.flush()
            time.sleep_ms(ms * (i + 1) // n - ms * i // n)
        os.remove(self._open)
        self._dirty = self._erased = False


def _sector_of(block):
    s = 0
    while block >= _SECTOR_END[s]:
        s += 1
    return s


class _Backup:
    """The battery-backed SRAM on a file: slices read and write it (the board's is memory).

    sim/hardware.py keeps the file across resets and, unless told VBAT is present, fills it
    with random bytes at every power-up, as the real SRAM comes up after losing all supply.
    """

    def __init__(self, path, board, cut):
        self._f = open(path, "r+b")  # noqa: SIM115  (open for the life of the board)
        self._board = board
        self._cut = cut

    def __len__(self):
        return BACKUP_SIZE

    def __getitem__(self, s):
        self._f.seek(s.start)
        return self._f.read(s.stop - s.start)

    def __setitem__(self, s, data):
        self._board.poll_io()
        self._f.seek(s.start)
        if self._cut.due(b"b"):
            self._f.write(memoryview(data)[: min(self._cut.nbytes, len(data))])
            self._f.flush()
            self._board.halt(b"W\n")
        self._f.write(data)
        self._f.flush()


class _Uart:
    """The ground link: non-blocking ``readinto``, which tells the hardware how much was read (it
    models the board's receive buffer); ``write(buf, n)`` returns once the bytes have
    left the wire, as the stm32 port's (uart.c uart_tx_data waits for TXE before each character
    and for TC after the last; no TX buffer, no DMA): the firmware sleeps their line time."""

    def __init__(self, sock, baud, send):
        self._s = sock
        self.baud = baud
        self._us_per_byte_x16 = 160_000_000 // baud  # 10 bits (8N1), in 1/16 us
        self._send = send
        self._read = bytearray(b"U0000\n")  # filled in place: reading allocates nothing

    def readinto(self, buf):
        n = self._s.readinto(buf)
        if n:  # at most the hardware's buffer (sim/link.py RX_HELD), so 4 digits
            msg = self._read
            for i in range(4):
                msg[4 - i] = 48 + n // 10**i % 10
            self._send(msg)
        return n

    def write(self, buf, n):
        mv = memoryview(buf)
        sent = 0
        while sent < n:
            sent += self._s.write(mv[sent:n]) or 0
        time.sleep_us(n * self._us_per_byte_x16 >> 4)


def _connect(port):
    s = socket.socket()
    s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)  # io lines are tiny: no Nagle delay
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    s.setblocking(False)
    return s


class Board:
    def __init__(self, io_port, uart_port, reset_cause, flash_path, baud, timing, fs):
        self._io = _connect(io_port)
        self._io_rx = b""
        self._inputs = -1  # until the hardware sends them
        self._arm = self._led = False
        self._burning = -1
        self._cause = reset_cause
        self._cut = _Cut()
        self._send(b"A0\nC\nL0\n")  # every output off before anything else runs
        self._io.setblocking(True)
        while self._inputs < 0:  # the hardware answers with any pending P line, then I
            self._apply_lines(self._io.read(1))
        self._io.setblocking(False)
        self.uart = _Uart(_connect(uart_port), baud, self._send)
        self._poll = select.poll()
        self._poll.register(self._io, select.POLLIN)
        self._poll.register(self.uart._s, select.POLLIN)
        self._flash = _Flash(flash_path, self, timing, self._cut)
        self.backup = _Backup(flash_path[: flash_path.rfind("/") + 1] + "backup.img", self, self._cut)
        self.fs_root = FS_ROOT
        # littlefs replaces a rewritten file at its close, or not at all; FAT does not (the store
        # writes a temp file and renames it)
        self.fs_atomic = fs == "lfs"
        self.ticks_ms = time.ticks_ms
        self.ticks_diff = time.ticks_diff
        self.heap_free = gc.mem_free
        self._mount(vfs.VfsLfs2 if fs == "lfs" else vfs.VfsFat)

    def _mount(self, kind):
        try:
            vfs.mount(kind(self._flash), FS_ROOT)
        except OSError:  # blank or unreadable flash: format, as the board's first boot does (main.c)
            kind.mkfs(self._flash)
            vfs.mount(kind(self._flash), FS_ROOT)

    # --- the board contract (ticks_ms, ticks_diff, heap_free: bound in __init__) ----
    def idle(self, ms):
        self._flash.tick()
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
            k, n, nbytes = line[1:].split()
            self._cut.kind = k if k != b"-" else b""
            self._cut.n = int(n)
            self._cut.nbytes = int(nbytes)

    def _send(self, msg):
        self._io.setblocking(True)
        self._io.write(msg)
        self._io.setblocking(False)

    def stall(self, msg):
        """Tell the hardware the firmware freezes for a flash operation (the caller sleeps)."""
        self._send(msg)

    def halt(self, msg):
        """Tell the hardware and wait to be killed (power loss, reset)."""
        self._send(msg)
        while True:
            time.sleep(1)
