"""A stand-in for ``python -m sim``: prints its ports and answers the control channel.

    fake_sim.py LOG [--link-port 0 --control-port 0 ...]

Every request is appended to LOG (one JSON line each). ``state`` and ``burns`` answer
the fixtures below, ``{"cmd": "bad"}`` is refused, ``{"cmd": "die"}`` exits with status 3
after a traceback-like line on stderr; anything else is acknowledged. Ctrl-C exits 0.
"""

import json
import os
import signal
import socket
import sys

STATE = {"ok": True, "outputs": {"arm": True, "actuators": [False, True, False, False], "led": True}}
BURNS = {"ok": True, "burns": [{"slot": 2, "start": 1.0, "end": None, "end_by": None, "powered": True}]}


def main(log_path):
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    server = socket.create_server(("127.0.0.1", 0))
    print("link: socket://127.0.0.1:1")
    print("control: tcp://127.0.0.1:%d" % server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    channel = conn.makefile("rwb")
    for line in channel:
        request = json.loads(line)
        with open(log_path, "a") as log:
            log.write(json.dumps(request) + "\n")
        if request["cmd"] == "die":
            sys.stderr.write("Traceback: MemoryError\n")
            sys.stderr.flush()
            os._exit(3)  # at once, as a crash: no Python shutdown that a Ctrl-C could overtake
        answer = {"state": STATE, "burns": BURNS, "bad": {"ok": False, "error": "unknown cmd 'bad'"}}.get(
            request["cmd"], {"ok": True})
        channel.write((json.dumps(answer) + "\n").encode())
        channel.flush()


main(sys.argv[1])
