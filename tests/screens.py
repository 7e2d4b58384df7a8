"""`make docs-screens`: the console at 80x24 and 120x40 on a simulated board, as SVG for docs/GROUND.md.

Runs the real firmware in the sim and, as `make run` does, a ground server on it; drives the
console on the server through Textual's pilot (command authority taken, a PING, a parameter
read, a hazardous command waiting for its confirmation) and saves each screen with
Textual's screenshot. Never part of `make test`: the pictures change with every run.
"""

import asyncio
import os
import queue
import tempfile
import time

from ground.archive import Archive
from ground.console import Console, open_client
from ground.server import Background, Server
from tests.sim.simproc import ROOT, Sim

SIZES = ((80, 24), (120, 40))
_LINES = ("PING", "PARAM_GET ARM_WINDOW", "FIRE_SEQUENCE 1,2 0")


async def _screen(url, size):
    inbox = queue.SimpleQueue()
    with open_client(url, inbox, timeout=10) as client:
        client.take()
        app = Console(client, inbox)
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 15
            while client.latest_hk is None:
                assert time.monotonic() < deadline, "no housekeeping from the simulated board"
                await pilot.pause(0.1)
            for line in _LINES:
                app.query_one("#cmd").value = line
                await pilot.press("enter")
                await pilot.pause(1.0)
            name = "console-%dx%d.svg" % size
            app.save_screenshot(filename=name, path=str(ROOT / "docs"))
            return name


def main():
    with tempfile.TemporaryDirectory() as state, Sim(app="firmware.app") as sim:
        os.environ["XDG_STATE_HOME"] = state  # the screens' commands use their own sequence counts
        archive = Archive(os.path.join(state, "server.sqlite"))
        try:
            with Background(Server(sim.ports["link"], archive, timeout=10)) as server:
                for size in SIZES:
                    print("docs/" + asyncio.run(_screen(server.url, size)))
        finally:
            archive.close()


if __name__ == "__main__":
    main()
