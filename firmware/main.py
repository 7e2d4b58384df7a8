"""Boot entry on the board: the launcher (frozen into an image, or installed as /flash/main.py).

At every boot, before anything else::

    /flash/maintenance exists   remove it and stop: no application and no watchdog, so the
                                REPL stays free for ``make flash`` (the stm32 machine.WDT
                                cannot be stopped once started); the next reset runs the
                                application again
    /flash/app names a slot     run the application of that slot: /flash/<slot>/firmware
    (or /flash/app.new)         (ground.deploy writes app.new, then renames it over app; on
                                FAT that rename removes app first, so a reset in between
                                finds the new slot in app.new)
    no slot named               run the ``firmware`` package found on sys.path (frozen in
                                the image, or the older layout /flash/firmware)

The Board is built first: its constructor drives every output off before the application
(records, link, sequencer) is even imported, and starts the watchdog. ground.deploy writes
the layout read here; docs: hil/README.md ("Flashing a board").
"""

import os
import sys

ROOT = "/flash"
FLAG = "maintenance"
POINTERS = ("app", "app.new")  # read in this order: app.new only counts once app is gone
SLOTS = ("a", "b")


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def pick_slot(texts):
    """The slot named by the pointer files' contents (in POINTERS order, None: no file), or None."""
    for text in texts:
        if text is not None and text.strip() in SLOTS:
            return text.strip()
    return None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def active_slot(root=ROOT):
    """The slot named by the pointer files on ``root``, or None."""
    return pick_slot([_read(root + "/" + name) for name in POINTERS])


def boot(root=ROOT):
    """The boot decision: None for a maintenance boot (the flag is consumed), else the folder
    to put first on sys.path ("" when no slot is named)."""
    flag = root + "/" + FLAG
    if _exists(flag):
        try:
            os.remove(flag)
        except OSError:
            pass  # it stays: the next boot is a maintenance boot too, which is safe
        return None
    slot = active_slot(root)
    return root + "/" + slot if slot else ""


def start():
    from firmware.board_nucleo import Board

    board = Board()
    from firmware import app

    app.run(board)


def main(root=ROOT):
    path = boot(root)
    if path is None:
        print("main.py: maintenance boot, application and watchdog not started (reset to run them)")
        return
    if path:
        sys.path.insert(0, path)
    start()


if __name__ == "__main__":
    main()
