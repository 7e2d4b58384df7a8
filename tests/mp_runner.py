"""Run the firmware tests under the MicroPython unix port.

    micropython tests/mp_runner.py tests/firmware [name_filter]

Imports every ``test_*.py`` in the folder and calls each ``test_*`` function (the
same files pytest runs under CPython; they use plain ``assert`` only), then drops
the module: the tests share one capped heap.
Prints one line per failure and a closing ``N passed, N failed`` line; exits 1
on any failure or if nothing ran.
"""

import gc
import os
import sys


def main(folder, name_filter=""):
    sys.path.insert(0, ".")
    sys.path.insert(0, folder)
    passed = failed = 0
    for fname in sorted(os.listdir(folder)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        try:
            mod = __import__(modname)
        except Exception as e:
            print("ERROR importing %s: %r" % (modname, e))
            failed += 1
            continue
        for name in sorted(dir(mod)):
            if not name.startswith("test_") or name_filter not in name:
                continue
            fn = getattr(mod, name)
            if not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL %s.%s" % (modname, name))
                sys.print_exception(e)
        del sys.modules[modname]  # its code and globals go: the next module gets the heap back
        mod = fn = None
        gc.collect()
    print("micropython: %d passed, %d failed" % (passed, failed))
    if failed or not passed:
        sys.exit(1)


main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
