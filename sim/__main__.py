"""``python -m sim``: run the firmware on the simulated board (see sim/README.md).

Prints ``link:``, ``control:`` (and ``pty:``) first, then serves until Ctrl-C, or until
the console exits with ``--console``. Operator mistakes end as one ``sim: message`` line
and status 1; so does firmware that dies on its own (its traceback comes first).
"""

import argparse
import asyncio
import signal
import sys

from sim import BOARD_HEAP
from sim.hardware import Hardware, SimError, workdir

CONSOLE_STOP_S = 5.0  # how long the console gets to exit when the sim stops first


def parse_args(argv):
    p = argparse.ArgumentParser(prog="sim", description="simulated payload controller board and deployer")
    p.add_argument("--link-port", type=int, default=0, help="TCP port of the link (0: any free)")
    p.add_argument("--control-port", type=int, default=0, help="TCP port of the control channel (0: any free)")
    p.add_argument("--pty", action="store_true", help="also expose the link as a pseudo-terminal")
    p.add_argument("--baud", type=int, default=115200, help="line rate of the link (default 115200)")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="one-way link delay")
    p.add_argument("--seed", type=int, help="seed of every random draw (deterministic runs)")
    p.add_argument("--state-dir", help="keep the flash image here across runs (default: temporary)")
    p.add_argument("--heap", default=BOARD_HEAP,
                   help="MicroPython heap size (default %s: the board's 64 KiB on this 64-bit port)" % BOARD_HEAP)
    p.add_argument("--keys", metavar="FILE",
                   help="install this key file's keys on the board's flash before it boots (see ground/auth.py)")
    p.add_argument("--app", default="firmware.app", help="application module or .py file, entry run(board)")
    p.add_argument("--burn-time", type=float, default=1.0, metavar="S", help="mean burn time to release")
    p.add_argument("--burn-spread", type=float, default=0.05, metavar="S", help="std deviation of the burn time")
    p.add_argument("--bounce-ms", type=float, default=20, help="separation switch chatter after release")
    p.add_argument("--vbat", action="store_true",
                   help="VBAT is supplied: the backup SRAM survives a power cycle (default: lost, as on a NUCLEO)")
    p.add_argument("--flash-timing", choices=("typical", "max"), default="typical",
                   help="flash erase and write-back stalls: datasheet typical (default) or maximum")
    p.add_argument("--fs", choices=("lfs", "fat"), default="lfs",
                   help="filesystem on /flash: littlefs (default, the project's image) or FAT (the stock image)")
    p.add_argument("--console", action="store_true",
                   help="run a ground server on the link (and its web console) and the console on it in the foreground")
    opts = p.parse_args(argv)
    if not 1200 <= opts.baud <= 4_000_000:
        p.error("--baud must be 1200..4000000")
    if opts.latency < 0 or opts.burn_time < 0 or opts.burn_spread < 0 or opts.bounce_ms < 0:
        p.error("--latency, --burn-time, --burn-spread and --bounce-ms must be >= 0")
    return opts


def console_command(link_url):
    """The ground server on the link (with the web console), and the console on the server: more consoles,
    tools and browsers join at the addresses it prints."""
    return [sys.executable, "-m", "ground", "serve", link_url, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--console"]


async def serve(opts, console=None):
    """Run the board until the firmware dies, SIGTERM, or the ``console`` command exits."""
    path, tmp = workdir(opts.state_dir)
    hw = Hardware(opts, path)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, kill, terminal gone: clean stop
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)  # before the ports are known
    try:
        lines = await hw.start()
        print("\n".join(lines), flush=True)
        waits = [asyncio.create_task(hw.failed.wait()), asyncio.create_task(stop.wait())]
        if console:
            waits.append(asyncio.create_task(_console(console(hw.link_url))))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)  # the console has left
        if hw.failed.is_set():
            raise SimError(hw.failure)
    finally:
        await hw.stop()
        if tmp:
            tmp.cleanup()


async def _console(argv):
    proc = await asyncio.create_subprocess_exec(*argv)
    try:
        await proc.wait()
    finally:  # the sim is stopping first (Ctrl-C, dead firmware): ask the console to leave
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), CONSOLE_STOP_S)
            except TimeoutError:
                proc.kill()


def main(argv=None):
    opts = parse_args(argv)
    try:
        asyncio.run(serve(opts, console_command if opts.console else None))
    except KeyboardInterrupt:
        pass
    except SimError as e:
        print("sim: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
