"""Entry point inside micropython, started by sim/hardware.py (the sim's main.py).

    micropython -X heapsize=96k sim/boot.py MPY_PATH IO_PORT UART_PORT RESET_CAUSE FLASH BAUD TIMING FS APP [KEYS]

MPY_PATH (":"-separated) holds the compiled firmware (firmware/*.mpy), board.mpy and
the app; the board is built first (all outputs off), then the application takes over.
KEYS (``python -m sim --keys``, first boot only): a file copied to the flash as ``keys``,
as ``make flash KEYS=file`` installs it on the board.
"""

import sys

mpy_path, io_port, uart_port, cause, flash, baud, timing, fs, app = sys.argv[1:10]
sys.path[:] = mpy_path.split(":")

from board import Board  # noqa: E402  (sys.path must point at the compiled modules first)

board = Board(int(io_port), int(uart_port), int(cause), flash, int(baud), timing, fs)
if len(sys.argv) > 10:
    with open(sys.argv[10], "rb") as src, open(board.fs_root + "/keys", "wb") as dst:
        dst.write(src.read())
__import__(app, None, None, ("run",)).run(board)
