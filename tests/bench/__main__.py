"""`make bench`: run every benchmark module in this folder and print its figures."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main():
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    failed = 0
    for name in names:
        try:
            lines = importlib.import_module("tests.bench." + name).run()
        except Exception as e:  # one broken benchmark must not hide the others' figures
            failed += 1
            lines = ["%s: FAILED: %s" % (name, e)]
        for line in lines:
            print(line, flush=True)
    sys.exit(1 if failed else 0)


main()
