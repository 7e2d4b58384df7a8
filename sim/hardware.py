"""The simulated hardware around the firmware process (CPython, asyncio).

Owns what survives a firmware reset: the plant, the paced link (TCP server and pty),
the control channel, the watchdog and the hardware burn cutoff. Runs the firmware as
``micropython -X heapsize=... sim/boot.py ...`` and restarts it on reset; the process
talks back over the uart and io sockets described in sim/board.py. The control
channel (sim/control.py) and the link lines (sim/link.py) act through ``Hardware``.
"""

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

from firmware.dictionary import RESET_CAUSES
from ground import auth, build
from ground.build import BuildError
from ground.errors import UsageError
from sim.control import Control, ControlError
from sim.link import Line, Noise, Receiver
from sim.plant import Plant

ROOT = Path(__file__).resolve().parent.parent
WATCHDOG_S = 16.0  # firmware/board_nucleo.py _WDT_MS: above the longest flash freeze of a record write
TICK_S = 0.002  # plant and watchdog resolution
START_TIMEOUT_S = 10.0  # from process start to both sockets connected
FLASH_SIZE = 512 * 224  # sim/board.py: _BLOCK * _BLOCKS (MicroPython's /flash on the F429)
FLASH_SECTORS = (1, 2, 3, 4)  # the internal-flash sectors /flash occupies
BACKUP_SIZE = 4096  # sim/board.py BACKUP_SIZE: the backup SRAM
POWER_CUT_OFF_S = 0.1
_TAKEN_GRACE_S = 0.3  # a second link client waits this long for the first to leave, then is closed
POWERCUT_KINDS = ("write", "erase", "program", "backup")  # sim/board.py _Cut, in its io letters


class SimError(Exception):
    """Something the operator must fix or know (port in use, no micropython, firmware died)."""


def cause(name):
    return RESET_CAUSES.index(name)


class Process:
    """Compiles the firmware when stale, then starts ``micropython`` processes on request.

    As on the board, the firmware runs from .mpy bytecode (under a 64 KiB heap the
    compiler itself would not fit): the package compiled by ground.build (the same files
    as ``make mpy-compile``), plus build/mpy/board.mpy; an app given as a file is
    compiled into the work dir. Files are replaced atomically, so sims may start side by side.
    """

    def __init__(self, opts, workdir):
        self._opts = opts
        self.keys = None  # --keys: the board's keys file, installed before the first boot as `make flash KEYS=` does
        if getattr(opts, "keys", None):
            try:
                self.keys = workdir / "keys.bin"
                self.keys.write_bytes(auth.blob(auth.load_keys(opts.keys)))
            except UsageError as e:
                raise SimError(str(e))
        try:
            self.micropython = build.tool("micropython")
            build.compile_package()
            build.compile_module(ROOT / "sim" / "board.py", build.OUT.parent / "board.mpy")
            self.path = [build.OUT.parent]
            self.app = opts.app
            if opts.app.endswith(".py"):
                self.app = Path(opts.app).stem
                build.compile_module(Path(opts.app), workdir / "app" / (self.app + ".mpy"))
                self.path.append(workdir / "app")
        except BuildError as e:
            raise SimError(str(e))

    async def spawn(self, io_port, uart_port, reset_cause, flash):
        argv = [self.micropython, "-X", "heapsize=" + self._opts.heap, str(ROOT / "sim" / "boot.py"),
                ":".join(map(str, self.path)), str(io_port), str(uart_port), str(reset_cause), str(flash),
                str(self._opts.baud), self._opts.flash_timing, self._opts.fs, self.app]
        if self.keys:
            argv.append(str(self.keys))
            self.keys = None
        return await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Hardware:
    """The board around the firmware: see the module docstring."""

    def __init__(self, opts, workdir):
        self.opts = opts
        seed = opts.seed if opts.seed is not None else random.randrange(1 << 32)
        self.plant = Plant(seed, opts.burn_time, opts.burn_spread, opts.bounce_ms)
        self.noise = Noise()
        self.flash = workdir / "flash.img"
        if not self.flash.exists() or self.flash.stat().st_size != FLASH_SIZE:
            self.flash.write_bytes(b"\xff" * FLASH_SIZE)
        self.backup = workdir / "backup.img"
        self._backup_rng = random.Random("%s:backup" % seed)
        self.vbat = opts.vbat
        self.erases = [0] * len(FLASH_SECTORS)  # since the sim started, per sector
        self.stalls = {"count": 0, "total_ms": 0, "longest_ms": 0, "during_burn": 0}
        self.sectors_lost = 0  # power lost, without VBAT, between a sector's erase and the end of its write-back
        self._write_back = workdir / "flash.img.wb"  # sim/board.py: there while a sector is being rewritten
        self.longest_unfed_ms = 0  # the watchdog's headroom: longest time the firmware went unfed
        self.process = Process(opts, workdir)
        self.up = Line(opts.baud, opts.latency, self.noise, random.Random("%s:up" % seed), self._to_board)
        self.down = Line(opts.baud, opts.latency, self.noise, random.Random("%s:down" % seed), self._to_ground)
        self.rx = Receiver()  # the board's UART receive buffer
        self.failed = asyncio.Event()  # the firmware died on its own
        self.failure = ""
        self.starts = 0
        self.last_reset = None
        self.watchdog = False
        self.brownout = None  # {"after_ms": N} or {"at": "burn_start"}, while pending
        self.powercut = None  # {KIND: N, "bytes": B}, while pending
        self._t0 = time.monotonic()
        self._proc = None
        self._io = self._uart = self._client = None
        self._pty = None
        self._inputs_sent = None
        self._fed = 0.0
        self._cutoff = self._brownout_timer = None
        self._cutoff_due = 0.0  # plant time the running burn's hardware cutoff is set for
        self._restart_lock = asyncio.Lock()
        self._ready = None
        self.link_url = None
        self._tasks = []
        self._conns = {}  # connection handler task -> its writer
        self._link_free = asyncio.Event()  # no ground client on the link
        self._link_free.set()
        self._servers = []

    def now(self):
        return time.monotonic() - self._t0

    # --- life cycle -------------------------------------------------------------------
    async def start(self):
        """Bind every socket, start the firmware; returns the lines to print."""
        try:
            link = await self._listen(self._on_link, self.opts.link_port)
            control = await self._listen(Control(self).serve, self.opts.control_port)
        except OSError as e:
            raise SimError("cannot listen: %s" % e.strerror)
        self._io_srv = await self._listen(self._on_io, 0)
        self._uart_srv = await self._listen(self._on_uart, 0)
        self.link_url = "socket://127.0.0.1:%d" % _port(link)
        lines = ["link: " + self.link_url, "control: tcp://127.0.0.1:%d" % _port(control)]
        if self.opts.pty:
            lines.append("pty: " + self._open_pty())
        self._tasks = [asyncio.create_task(c) for c in (self.up.run(), self.down.run(), self._tick())]
        self._write_back.unlink(missing_ok=True)  # left by a sim stopped mid-write: not this session's loss
        await self._boot(cause("POWER_ON"))
        return lines

    async def _listen(self, handler, port):
        async def serve(reader, writer):
            self._conns[asyncio.current_task()] = writer
            try:
                await handler(reader, writer)
            except ConnectionError:
                pass  # the peer went away: it may come back
            finally:
                writer.close()
                del self._conns[asyncio.current_task()]

        self._servers.append(await asyncio.start_server(serve, "127.0.0.1", port))
        return self._servers[-1]

    async def stop(self):
        for t in self._tasks:  # first, so that no restart spawns a board after the kill
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._kill()
        for srv in self._servers:
            srv.close()
        for w in self._conns.values():
            w.close()
        if self._conns:  # let every connection handler see its end
            await asyncio.wait(list(self._conns), timeout=1.0)
        if self._pty:
            asyncio.get_running_loop().remove_reader(self._pty[0])
            for fd in self._pty:
                os.close(fd)

    async def restart(self, reset_cause, off_s=0.0):
        async with self._restart_lock:
            await self._kill()
            if self._write_back.exists():  # the sector is gone from flash; without VBAT, its copies too
                self._write_back.unlink()
                self.sectors_lost += reset_cause == cause("POWER_ON") and not self.vbat
            await asyncio.sleep(off_s)
            await self._boot(reset_cause)

    def _power_up(self):
        """The backup SRAM after the supply came back: kept with VBAT, else random."""
        if not self.vbat or not self.backup.exists():
            self.backup.write_bytes(self._backup_rng.randbytes(BACKUP_SIZE))

    def restart_soon(self, reset_cause, off_s=0.0):
        """Restart from a callback (watchdog, brown-out, power cut, firmware request)."""
        if not self._restart_lock.locked():
            self._tasks.append(asyncio.create_task(self.restart(reset_cause, off_s)))

    async def _boot(self, reset_cause):
        if reset_cause == cause("POWER_ON"):
            self._power_up()
        self._ready = asyncio.get_running_loop().create_future()  # the board connects io, then uart
        self._inputs_sent = None
        self.watchdog = False
        self._proc = proc = await self.process.spawn(
            _port(self._io_srv), _port(self._uart_srv), reset_cause, self.flash)
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(self._watch(proc)))
        died = asyncio.create_task(self.failed.wait())
        await asyncio.wait((self._ready, died), timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        died.cancel()
        if not self._ready.done():
            if not self.failed.is_set():
                self._fail("firmware did not connect to the simulated board within %.0f s" % START_TIMEOUT_S)
            return
        self.starts += 1
        self.last_reset = RESET_CAUSES[reset_cause]

    async def _kill(self):
        proc, self._proc = self._proc, None
        self.plant.all_off(self.now())
        self._cancel_cutoff()
        for w in (self._io, self._uart):
            if w:
                w.close()
        self._io = self._uart = None
        self.powercut = None  # armed inside the process that dies
        if proc and proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def _watch(self, proc):
        """Copy the firmware's console (the board's REPL UART) to stderr; notice its death."""
        while line := await proc.stdout.readline():
            sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()
        await proc.wait()
        if proc is self._proc:
            self._fail("firmware exited with status %d (its console output is above)" % proc.returncode)

    def _fail(self, why):
        self.failure = why
        self.failed.set()

    @property
    def running(self):
        return self._proc is not None and self._ready.done()

    def flash_state(self):
        return {"sectors": list(FLASH_SECTORS), "erases": list(self.erases), "stalls": dict(self.stalls),
                "sectors_lost": self.sectors_lost}

    def link_state(self):
        return {"client": self._client is not None, "to_board": self.up.delivered,
                "to_ground": self.down.delivered, **self.noise.counts, "overrun": self.rx.lost,
                "unread": self.rx.held}

    # --- the board's io channel ---------------------------------------------------------
    async def _on_io(self, reader, writer):
        line = _powercut_line(self.powercut) if self.powercut else ""
        writer.write((line + "I%d\n" % self._input_bits()).encode())
        self._inputs_sent = self._input_bits()
        self._io = writer
        while line := await reader.readline():
            if writer is self._io:
                try:
                    self._on_board(line.decode().strip())
                except (ValueError, IndexError):  # e.g. burn(7): the firmware broke the contract
                    self._fail("the firmware drove the board outside its contract: %r" % line)

    def _on_board(self, msg):
        t = self.now()
        kind, args = msg[:1], msg[1:].split()
        if kind == "A":
            self.plant.set_arm(msg == "A1", t)
        elif kind == "L":
            self.plant.led = msg == "L1"
        elif kind == "B":
            self._burn(int(args[0]), int(args[1]), t)
        elif kind == "C":
            if self._cutoff and self._cutoff_at() <= t:  # the timer was first: the host saw it late
                self._hardware_cutoff()
            else:
                self._cancel_cutoff()
                self.plant.cut(t, "firmware")
        elif kind == "U":
            self.rx.read(int(args[0]))
        elif kind == "F":
            now = time.monotonic()
            if self.watchdog:
                self.longest_unfed_ms = max(self.longest_unfed_ms, round((now - self._fed) * 1000))
            self.watchdog = True
            self._fed = now
        elif kind in ("E", "S"):
            ms = int(args[-1])
            self._stall(ms)
            if kind == "E":
                self.erases[FLASH_SECTORS.index(int(args[0]))] += 1
        elif kind == "W":
            self.restart_soon(cause("POWER_ON"), POWER_CUT_OFF_S)
        elif kind == "R":
            self.restart_soon(cause("SOFT"))

    def _burn(self, slot, max_ms, t):
        self.plant.burn(slot, t)
        self._cancel_cutoff()
        self._cutoff_due = t + max_ms / 1000
        self._cutoff = asyncio.get_running_loop().call_later(max_ms / 1000, self._hardware_cutoff)
        if self.brownout == {"at": "burn_start"}:
            self.brownout = None
            self.restart_soon(cause("BROWN_OUT"))

    def _stall(self, ms):
        """The firmware froze for a flash operation (counted here; the hardware cutoff runs on)."""
        self.stalls["count"] += 1
        self.stalls["total_ms"] += ms
        self.stalls["longest_ms"] = max(self.stalls["longest_ms"], ms)
        self.stalls["during_burn"] += any(s.actuator for s in self.plant.slots)

    def _cutoff_at(self):
        """When the hardware ends the burn, in plant time: at BURN_MAX. It models TIM1's channel
        driving the actuator pin (firmware/board_nucleo.py), one pulse that the counter ends with
        no code running, so a flash stall, which freezes the CPU alone, does not postpone it."""
        return self._cutoff_due

    def _hardware_cutoff(self):
        """The timer's cut, at the time the hardware makes it, however late this host runs it."""
        wait = self._cutoff_at() - self.now()
        if wait > 0:
            self._cutoff = asyncio.get_running_loop().call_later(wait, self._hardware_cutoff)
            return
        self._cutoff = None
        self.plant.cut(self._cutoff_at(), "cutoff")
        if self._io:
            self._io.write(b"X\n")

    def _cancel_cutoff(self):
        if self._cutoff:
            self._cutoff.cancel()
            self._cutoff = None

    def _input_bits(self):
        bits = self.plant.inputs["rbf_removed"] | self.plant.inputs["permit"] << 1
        for i, closed in enumerate(self.plant.switches(self.now())):
            bits |= closed << (2 + i)
        return bits

    async def _tick(self):
        while True:
            await asyncio.sleep(TICK_S)
            self.plant.update(self.now())
            if not self._io:
                continue
            bits = self._input_bits()
            if bits != self._inputs_sent:
                self._inputs_sent = bits
                self._io.write(b"I%d\n" % bits)
            if self.watchdog and time.monotonic() - self._fed > WATCHDOG_S:
                self.restart_soon(cause("WATCHDOG"))

    # --- faults that live in the hardware -------------------------------------------------
    def arm_brownout(self, after_ms=None, at=None):
        self.clear_brownout()
        if at == "burn_start" and after_ms is None:
            self.brownout = {"at": at}
        elif at is None and isinstance(after_ms, int) and after_ms >= 0:
            self.brownout = {"after_ms": after_ms}
            self._brownout_timer = asyncio.get_running_loop().call_later(after_ms / 1000, self._brownout_now)
        else:
            raise ControlError('brownout needs "after_ms": N >= 0 or "at": "burn_start"')

    def _brownout_now(self):
        self.brownout = self._brownout_timer = None
        self.restart_soon(cause("BROWN_OUT"))

    def clear_brownout(self):
        if self._brownout_timer:
            self._brownout_timer.cancel()
        self.brownout = self._brownout_timer = None

    def arm_powercut(self, req):
        """``req``: one of POWERCUT_KINDS (default "write") = n >= 1, and "bytes" (default 256)."""
        kinds = [k for k in POWERCUT_KINDS if k in req] or ["write"]
        kind, n, nbytes = kinds[0], req.get(kinds[0], 1), req.get("bytes", 256)
        limit = BACKUP_SIZE if kind == "backup" else 64 * 1024 if kind == "program" else 512
        if len(kinds) > 1 or not (isinstance(n, int) and n >= 1 and isinstance(nbytes, int) and 0 <= nbytes <= limit):
            raise ControlError('powercut needs one of %s >= 1, and 0 <= "bytes" <= %d for %s'
                               % (", ".join('"%s"' % k for k in POWERCUT_KINDS), limit, kind))
        self.powercut = {kind: n, "bytes": nbytes}
        if self._io:
            self._io.write(_powercut_line(self.powercut).encode())

    def disarm_powercut(self):
        self.powercut = None
        if self._io:
            self._io.write(b"P- 0 0\n")

    # --- the link ---------------------------------------------------------------------------
    async def _on_link(self, reader, writer):
        """One client at a time, like the board's UART. A second one is closed at once (the one
        connected keeps the link: nobody steals it), after a moment's grace for a client that
        has just closed and whose end the sim has not read yet."""
        if self._client:
            try:
                await asyncio.wait_for(self._link_free.wait(), _TAKEN_GRACE_S)
            except TimeoutError:
                return  # the serve() wrapper closes this connection
        self._client = writer
        self._link_free.clear()
        try:
            while data := await reader.read(4096):
                self.up.put(data)
        except ConnectionError:
            pass  # the ground went away mid-read: as a clean close
        finally:
            if self._client is writer:
                self._client = None
                self._link_free.set()

    async def _on_uart(self, reader, writer):
        self._uart = writer
        self.rx.clear()
        self._ready.set_result(None)
        while data := await reader.read(4096):
            if writer is self._uart:
                self.down.put(data)

    def _to_board(self, data):
        if self._uart:
            self._uart.write(self.rx.receive(data))

    def _to_ground(self, data):
        if self._client and not self._client.is_closing():  # bytes for a gone ground are lost
            self._client.write(data)
        if self._pty:
            try:
                os.write(self._pty[0], data)
            except OSError:
                pass  # nobody reads the pty and its buffer is full: bytes lost, as on a wire

    def _open_pty(self):
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: a plain serial line
        os.set_blocking(master, False)
        self._pty = (master, slave)  # holding the slave open keeps the master readable
        asyncio.get_running_loop().add_reader(master, self._on_pty)
        return os.ttyname(slave)

    def _on_pty(self):
        try:
            self.up.put(os.read(self._pty[0], 4096))
        except BlockingIOError:
            pass


def _port(server):
    return server.sockets[0].getsockname()[1]


def _powercut_line(cut):
    kind = next(k for k in POWERCUT_KINDS if k in cut)
    return "P%s %d %d\n" % (kind[0], cut[kind], cut["bytes"])


def workdir(state_dir):
    """The state dir (created), or a temporary one removed at exit."""
    if state_dir:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        return Path(state_dir), None
    tmp = tempfile.TemporaryDirectory(prefix="sim-")
    return Path(tmp.name), tmp
