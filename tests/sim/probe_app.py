"""A test probe that runs on the simulated board in place of the firmware (MicroPython).

It exercises the board contract, nothing else: one text command per line on the link,
one answer line back. At boot it sends ``boot <reset cause>``.

    in               -> in <rbf> <permit> <switch 0..3 as 0/1>
    arm 0|1, led 0|1 -> ok          burn <slot 0..3> <max_ms> -> ok     cut -> ok
    burning          -> burning <slot or -1>
    save <text>      -> saved (temp file + rename on the flash)     load -> rec <text>
    open <bytes>     -> ok (appends that many bytes to the file "open" and leaves it open)
    peek <off> <n>   -> mem <hex> (backup SRAM)                      poke <off> <hex> -> ok
    alloc <bytes>    -> ok (kept: the heap only grows)               starve -> stops feeding
    write <bytes>    -> that many dots, then wrote <ms the write blocked the board>
    deaf             -> deaf, then reads nothing more until the permit input drops, then ok
    reset            -> (the board resets)                           anything else -> echoed
"""

import os
import time


def _save(root, text):
    with open(root + "/rec.tmp", "w") as f:
        f.write(text)
    os.rename(root + "/rec.tmp", root + "/rec")


def _load(root):
    try:
        with open(root + "/rec") as f:
            return f.read()
    except OSError:
        return "-"


def _answer(board, words, kept):
    cmd = words[0] if words else ""
    if cmd == "in":
        sw = "".join("1" if board.switch(i) else "0" for i in range(4))
        return "in %d %d %s" % (board.rbf_removed(), board.permit(), sw)
    if cmd in ("arm", "led"):
        (board.set_arm if cmd == "arm" else board.set_led)(words[1] == "1")
    elif cmd == "burn":
        board.burn(int(words[1]), int(words[2]))
    elif cmd == "cut":
        board.cut()
    elif cmd == "burning":
        return "burning %d" % board.burning()
    elif cmd == "save":
        _save(board.fs_root, words[1])
        return "saved"
    elif cmd == "load":
        return "rec " + _load(board.fs_root)
    elif cmd == "open":
        f = open(board.fs_root + "/open", "ab")  # noqa: SIM115  (left open: no sync)
        f.write(bytes(int(words[1])))
        kept.append(f)
    elif cmd == "peek":
        off = int(words[1])
        return "mem " + board.backup[off:off + int(words[2])].hex()
    elif cmd == "poke":
        data = bytes.fromhex(words[2])
        board.backup[int(words[1]):int(words[1]) + len(data)] = data
    elif cmd == "write":
        dots = b"." * int(words[1])
        t0 = board.ticks_ms()
        board.uart.write(dots, len(dots))
        return "wrote %d" % board.ticks_diff(board.ticks_ms(), t0)
    elif cmd == "deaf":  # a board too busy to read the link (its receive buffer fills)
        board.uart.write(b"deaf\n", 5)
        while board.permit():
            time.sleep_ms(5)
            board.idle(0)  # takes the io line that drops permit (the uart is polled after it)
    elif cmd == "alloc":
        kept.append(bytearray(int(words[1])))
    elif cmd == "reset":
        board.reset()
    else:
        return " ".join(words)
    return "ok"


def run(board):
    buf = bytearray(256)
    line = b""
    kept = []
    feeding = True
    hello = b"boot %d\n" % board.reset_cause()
    board.uart.write(hello, len(hello))
    while True:
        if feeding:
            board.feed()
        n = board.uart.readinto(buf)
        if n:
            line += bytes(buf[:n])
        while b"\n" in line:
            cmd, line = line.split(b"\n", 1)
            words = cmd.decode().split()
            feeding = feeding and words != ["starve"]
            out = _answer(board, words, kept).encode() + b"\n"
            board.uart.write(out, len(out))
        board.idle(20)
