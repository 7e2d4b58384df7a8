"""Install the application on a NUCLEO-F429ZI running MicroPython, or write a MicroPython image.

    python -m ground.deploy --port /dev/ttyACM0 [--keys FILE]   (make flash PORT=... [KEYS=FILE])
    python -m ground.deploy --port /dev/ttyACM0 --to-littlefs   (make flash PORT=... TO_LITTLEFS=1)
    python -m ground.deploy --write-image BUILD_DIR|FILE   (make flash-micropython FIRMWARE=...)

Installing drives ``mpremote`` on the board's REPL (the ST-LINK virtual COM port). The
board's application feeds a watchdog that cannot be stopped, so nothing is copied while
it runs; and the copy goes to the slot the board does not boot, so a reset at any moment
leaves the old or the new application to boot (the layout and the boot decision are
firmware/main.py's)::

    1 enter      exec: create /flash/maintenance; reset
                 (the launcher consumes the flag and starts neither application nor watchdog)
    2 status     exec: print the flag, the slot pointers and the launcher
                 (retried while the board boots; a flag still there means the board's
                 main.py predates the maintenance boot: install the launcher, reset, 2 again)
    3 install    exec: empty /flash/<other slot>;  cp the package .mpy there;
                 cp main.py :/flash/main.new + exec rename (only when the launcher differs);
                 with --keys: cp the key file's keys (ground/auth.py) to /flash/keys;
                 exec: write /flash/app.new, rename it over /flash/app; reset

``--to-littlefs`` first converts /flash from FAT (what the stock image formats) to littlefs,
in the maintenance boot, between steps 2 and 3, only if the running image has
``vfs.VfsLfs2`` (built with MICROPY_VFS_LFS2=1; else it stops before anything is written)::

    2a records   exec: print every record file (store.RECORDS, .rec and FAT's .tmp) with its
                 bytes; the host keeps a copy in a directory it names
    2b format    exec: unmount /flash, VfsLfs2.mkfs(pyb.Flash(start=0)), mount it
                 (the stm32 port's main.c finds the littlefs superblock at every boot)
    2c restore   cp every record back; read them again and compare, byte for byte
    then step 3 installs the launcher and the application on the empty littlefs.

A reset inside 2b-2c leaves no launcher (the board starts in the REPL, nothing runs) and
the records in the backup SRAM and on the host: ``make flash`` again installs, and the
firmware writes its backup SRAM copies back to flash at boot (firmware/store.py).

The package is compiled by ground.build. Writing an image: a .dfu with ``dfu-util`` (board
in DFU mode), or the build's firmware0.bin and firmware1.bin with ``st-flash`` (ST-LINK),
at the addresses of MicroPython's NUCLEO_F429ZI build, as its own Makefile writes them.
Tools: $MPREMOTE, $DFU_UTIL, $STFLASH if set, else the venv's or PATH's. Errors are one
line, ``deploy: message``, exit code per ground.errors; no tracebacks.
"""

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware import main as launcher
from firmware.store import RECORDS
from ground import auth, build
from ground.errors import GroundError, LinkError, UsageError

FLASH = launcher.ROOT
FLAG = "%s/%s" % (FLASH, launcher.FLAG)
STATUS_FILES = (launcher.FLAG,) + launcher.POINTERS + (build.LAUNCHER,)
BOOT_TRIES = 10  # status attempts while the board reboots (about 1 s each)
BOOT_PAUSE_S = 1.0
# MicroPython's NUCLEO_F429ZI build (boards/NUCLEO_F429ZI/mpconfigboard.mk TEXT0_ADDR,
# TEXT1_ADDR; ports/stm32/Makefile deploy and deploy-stlink).
TEXT0_ADDR = "0x08000000"
TEXT1_ADDR = "0x08020000"
DFU_DEVICE = "0x0483:0xdf11"  # the STM32 system bootloader in DFU mode
IMAGE_PARTS = ("firmware0.bin", "firmware1.bin")

# Board-side steps, run by ``mpremote exec`` under MicroPython (os.stat(p)[0] is the mode).
_ENTER = "open('%s', 'w').close()" % FLAG
_STATUS = (
    "import os\n"
    "for n in %r:\n"
    " try:\n"
    "  with open('%s/' + n, 'rb') as f:\n"
    "   print(repr(f.read()))\n"
    " except OSError:\n"
    "  print(None)\n"
) % (STATUS_FILES, FLASH)
_RM_TREE = (
    "import os\n"
    "def rm(p):\n"
    " try:\n"
    "  if os.stat(p)[0] & 0x4000:\n"
    "   for n in os.listdir(p):\n"
    "    rm(p + '/' + n)\n"
    "   os.rmdir(p)\n"
    "  else:\n"
    "   os.remove(p)\n"
    " except OSError:\n"
    "  pass\n"
)
_RENAME_LAUNCHER = "import os\nos.rename('%s/main.new', '%s/main.py')\n" % (FLASH, FLASH)
# littlefs conversion (--to-littlefs): what the image can do, the records, the format.
_PROBE_FS = (
    "import vfs\n"
    "print(repr((hasattr(vfs, 'VfsLfs2'), [type(fs).__name__ for fs, p in vfs.mount() if p == '%s'])))\n"
) % FLASH
# the keys file too: a board that converts must not lose its keys (authentication would be off)
_RECORD_FILES = tuple(n + ext for n in RECORDS if n for ext in (".rec", ".tmp")) + ("keys",)
_READ_RECORDS = (
    "import os\n"
    "for n in os.listdir('%s'):\n"
    " if n in %r:\n"
    "  with open('%s/' + n, 'rb') as f:\n"
    "   print(repr((n, f.read())))\n"
) % (FLASH, _RECORD_FILES, FLASH)
_FORMAT_LFS = (
    "import vfs, pyb\n"
    "vfs.umount('%s')\n"
    "bdev = pyb.Flash(start=0)\n"
    "vfs.VfsLfs2.mkfs(bdev)\n"
    "vfs.mount(vfs.VfsLfs2(bdev), '%s')\n"
) % (FLASH, FLASH)


def _stage(slot):
    d = "%s/%s" % (FLASH, slot)
    return _RM_TREE + "rm('%s')\nos.mkdir('%s')\nos.mkdir('%s/firmware')\n" % (d, d, d)


def _commit(slot):
    """Name ``slot`` in app.new, then rename it over app (firmware/main.py reads both);
    the older layout's /flash/firmware goes once nothing boots from it."""
    new, app = "%s/%s" % (FLASH, launcher.POINTERS[1]), "%s/%s" % (FLASH, launcher.POINTERS[0])
    return (_RM_TREE + "with open('%s', 'w') as f:\n f.write('%s')\nos.rename('%s', '%s')\nrm('%s/firmware')\n"
            % (new, slot, new, app, FLASH))


def tool(name, env):
    """The tool named by environment variable ``env``, else ground.build.tool(name)."""
    return os.environ.get(env) or build.tool(name)


def run(cmd):
    """Run one tool; its failure becomes a GroundError with its last line of output."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        lines = (p.stderr or p.stdout).strip().splitlines()
        raise GroundError("%s failed: %s" % (Path(cmd[0]).name, lines[-1] if lines else "exit %d" % p.returncode))
    return p.stdout


class Installer:
    """The install steps of the module docstring, over one port; ``runner`` runs a command."""

    def __init__(self, port, runner=run):
        self.port = port
        self.runner = runner
        self.mpremote = tool("mpremote", "MPREMOTE")
        self.launcher = (build.SOURCE / build.LAUNCHER).read_bytes()

    def session(self, *steps):
        """One mpremote session: ``steps`` are argument lists, chained with ``+``."""
        cmd = [self.mpremote, "connect", self.port]
        for i, step in enumerate(steps):
            cmd += (["+"] if i else []) + list(step)
        return self.runner(cmd)

    def status(self):
        """{file: bytes or None} for STATUS_FILES, once the board answers."""
        for attempt in range(BOOT_TRIES):
            try:
                out = self.session(["exec", _STATUS])
            except GroundError:
                if attempt == BOOT_TRIES - 1:
                    raise
                time.sleep(BOOT_PAUSE_S)
                continue
            values = [ast.literal_eval(line) for line in out.splitlines() if line.strip()]
            if len(values) != len(STATUS_FILES):
                raise GroundError("unexpected answer from the board: %r" % out[-200:])
            return dict(zip(STATUS_FILES, values, strict=True))
        raise AssertionError("unreachable")

    def install_launcher(self):
        self.session(["cp", str(build.SOURCE / build.LAUNCHER), ":%s/main.new" % FLASH], ["exec", _RENAME_LAUNCHER])

    def records(self):
        """{file name: bytes} of every record file on /flash."""
        out = self.session(["exec", _READ_RECORDS])
        return dict(ast.literal_eval(line) for line in out.splitlines() if line.strip())

    def to_littlefs(self, keep):
        """Steps 2a-2c of the module doc; ``keep``: the host directory for the records' copy.
        Returns the record file names, or None if /flash is littlefs already."""
        lfs2, mounted = ast.literal_eval(self.session(["exec", _PROBE_FS]).strip().splitlines()[-1])
        if not lfs2:
            raise GroundError("the board's MicroPython has no littlefs (vfs.VfsLfs2): write an image built with "
                              "MICROPY_VFS_LFS2=1 first (make flash-micropython, hil/README.md); nothing changed")
        if mounted == ["VfsLfs2"]:
            return None
        records = self.records()
        for name, data in records.items():
            (keep / name).write_bytes(data)
        self.session(["exec", _FORMAT_LFS])
        if records:
            self.session(["cp", *[str(keep / n) for n in sorted(records)], ":%s/" % FLASH])
        if self.records() != records:
            raise GroundError("the records read back from littlefs differ from FAT's: their copy is in %s" % keep)
        return sorted(records)

    def install(self, mpys, convert=None, keys=None):
        """Steps 1-3 of the module doc (2a-2c into host directory ``convert``, when given), and
        the board's keys file ``keys``, if given; returns the slot and the record files carried
        to littlefs (None: no conversion)."""
        self.session(["exec", _ENTER], ["reset"])
        status = self.status()
        if status[launcher.FLAG] is not None:  # its main.py runs the application regardless
            self.install_launcher()
            self.session(["reset"])
            status = self.status()
            if status[launcher.FLAG] is not None:
                raise GroundError("the board did not come up in maintenance mode: check /flash/main.py")
        carried = self.to_littlefs(convert) if convert else None
        if carried is not None:
            status = dict.fromkeys(STATUS_FILES)  # an empty littlefs
        texts = [None if status[p] is None else status[p].decode(errors="replace") for p in launcher.POINTERS]
        slot = launcher.SLOTS[1] if launcher.pick_slot(texts) == launcher.SLOTS[0] else launcher.SLOTS[0]
        steps = [["exec", _stage(slot)], ["cp", *[str(m) for m in mpys], ":%s/%s/firmware/" % (FLASH, slot)]]
        if status[build.LAUNCHER] != self.launcher:
            steps += [["cp", str(build.SOURCE / build.LAUNCHER), ":%s/main.new" % FLASH], ["exec", _RENAME_LAUNCHER]]
        if keys:
            steps.append(["cp", str(keys), ":%s/keys" % FLASH])
        steps += [["exec", _commit(slot)], ["reset"]]
        self.session(*steps)
        return slot, carried


def check_port(port):
    if port.startswith("/dev/") and not os.path.exists(port):
        raise LinkError("no such port: %s (is the board plugged in?)" % port)


def install(port, runner=run, convert=None, key_file=None):
    """Compile the package and install it (with ``key_file``'s keys) on the board at ``port``
    (converting /flash to littlefs first, the records' copy in host directory ``convert``, when
    given); see Installer.install. The keys go through a file of this user's only, removed at
    once: never into the repository."""
    check_port(port)
    keys = auth.blob(auth.load_keys(key_file)) if key_file else None
    mpys = build.compile_package()
    if keys is None:
        return Installer(port, runner).install(mpys, convert)
    with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:  # mode 700
        path = Path(tmp) / "keys"
        path.write_bytes(keys)
        return Installer(port, runner).install(mpys, convert, path)


def image_commands(path):
    """The commands that write MicroPython image ``path`` to the board.

    A .dfu goes through dfu-util; the NUCLEO_F429ZI build's two .bin parts (give the build
    folder or its firmware0.bin) go through st-flash, which resets the board after the last."""
    p = Path(path)
    if not p.exists():
        raise UsageError("no such image: %s" % path)
    if p.suffix == ".dfu":
        return [[tool("dfu-util", "DFU_UTIL"), "-a", "0", "-d", DFU_DEVICE, "-D", str(p), "-s", ":leave"]]
    folder = p if p.is_dir() else p.parent
    if p.is_dir() or p.name == IMAGE_PARTS[0]:
        parts = [folder / name for name in IMAGE_PARTS]
        missing = [str(q) for q in parts if not q.exists()]
        if missing:
            raise UsageError("missing %s: a NUCLEO_F429ZI build writes %s and %s" % (
                ", ".join(missing), *IMAGE_PARTS))
        st_flash = tool("st-flash", "STFLASH")
        return [[st_flash, "--connect-under-reset", "write", str(parts[0]), TEXT0_ADDR],
                [st_flash, "--connect-under-reset", "--reset", "write", str(parts[1]), TEXT1_ADDR]]
    raise UsageError("give a .dfu (dfu-util), or the build folder or its firmware0.bin (st-flash), not %s" % p.name)


def main(argv=None, runner=run):
    ap = argparse.ArgumentParser(prog="deploy", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial port of the board's REPL (ST-LINK VCP), e.g. /dev/ttyACM0")
    g.add_argument("--write-image", metavar="PATH", help="a .dfu, or a MicroPython build folder (firmware0/1.bin)")
    ap.add_argument("--to-littlefs", action="store_true",
                    help="with --port: convert /flash from FAT to littlefs first, carrying the saved records across")
    ap.add_argument("--keys", metavar="FILE", help="with --port: install this key file's keys (ground/auth.py)")
    args = ap.parse_args(argv)
    if args.to_littlefs and not args.port:
        ap.error("--to-littlefs goes with --port")
    try:
        if args.keys and not args.port:
            raise UsageError("--keys goes with --port: keys are installed with the application")
        if args.port:
            keep = Path(tempfile.mkdtemp(prefix="deploy-records-")) if args.to_littlefs else None
            slot, carried = install(args.port, runner, keep, args.keys)
            if keep:
                print("deploy: /flash was littlefs already" if carried is None else
                      "deploy: /flash converted to littlefs, records carried across: %s (a copy is in %s)"
                      % (", ".join(carried) or "none", keep))
            print("deploy: application installed in slot %s on %s; board reset" % (slot, args.port))
        else:
            for cmd in image_commands(args.write_image):
                runner(cmd)
            print("deploy: wrote %s" % args.write_image)
    except GroundError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
