"""Boot entry on the board (installed as /flash/main.py).

The Board is built first: its constructor drives every output off before the
application (records, link, sequencer) is even imported.
"""

from firmware.board_nucleo import Board

board = Board()

from firmware import app  # noqa: E402  (after the outputs are safe)

app.run(board)
