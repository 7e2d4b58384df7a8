"""``python -m sim`` as an operator meets it: errors, Ctrl-C, the pty, ``--console``."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from sim.__main__ import console_command, parse_args, serve
from sim.hardware import SimError
from tests.sim.simproc import PROBE, ROOT, Sim, pty_link


def sim_cli(*args):
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)


def children(pid):
    """Pids of the live child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def test_bad_option_values_are_refused_in_one_line():
    r = sim_cli("--baud", "10")
    assert r.returncode == 2 and "sim: error: --baud must be 1200..4000000" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_busy_port_is_an_operator_error_not_a_traceback():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = sim_cli("--link-port", str(busy.getsockname()[1]), "--app", PROBE)
    assert r.returncode == 1 and r.stderr.startswith("sim: cannot listen:")
    assert "Traceback" not in r.stderr


def test_chosen_ports_are_printed_first():
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        link, control = a.getsockname()[1], b.getsockname()[1]
    with Sim("--link-port", str(link), "--control-port", str(control)) as s:
        assert s.stdout[:2] == ["link: socket://127.0.0.1:%d\n" % link, "control: tcp://127.0.0.1:%d\n" % control]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "kill", "hangup"])
def test_ctrl_c_kill_or_closing_the_terminal_stops_the_board_and_exits_cleanly(sig):
    s = Sim()
    boards = children(s.proc.pid)
    assert len(boards) == 1, "one micropython process"
    status, stderr = s.stop(sig)
    assert (status, stderr) == (0, "")
    assert not os.path.exists("/proc/%d" % boards[0]), "the board process outlived the sim"


def test_pty_is_a_serial_device_for_pyserial():
    with Sim("--pty") as s:
        assert s.ports["pty"].startswith("/dev/")
        link = s.probe_link(pty_link(s.ports["pty"]))
        assert link.ask("echo over the pty") == "echo over the pty"
        link.close()


def test_console_mode_runs_a_ground_server_with_its_web_console_on_the_link_url_and_the_console_on_it():
    assert console_command("socket://127.0.0.1:5") == [sys.executable, "-m", "ground", "serve",
                                                         "socket://127.0.0.1:5", "--listen", "127.0.0.1:0",
                                                         "--http", "127.0.0.1:0", "--console"]


def test_console_mode_stops_the_board_when_the_console_exits(tmp_path):
    """A stand-in console talks to the board over the URL it is given, then exits."""
    report = tmp_path / "console.txt"
    script = textwrap.dedent("""
        import sys, serial
        port = serial.serial_for_url(sys.argv[1], timeout=5)
        port.write(b"echo console\\n")
        open(sys.argv[2], "wb").write(port.read_until(b"echo console\\n"))
    """)
    opts = parse_args(["--app", PROBE, "--seed", "1"])
    asyncio.run(serve(opts, lambda url: [sys.executable, "-c", script, url, str(report)]))
    assert report.read_bytes().endswith(b"echo console\n")
    assert children(os.getpid()) == [], "the board process outlived the console"


def test_dead_firmware_stops_the_console_and_fails_the_sim(tmp_path):
    app = tmp_path / "crash.py"
    app.write_text("def run(board):\n    raise ValueError('broken firmware')\n")
    opts = parse_args(["--app", str(app)])
    with pytest.raises(SimError, match="firmware exited with status 1"):
        asyncio.run(serve(opts, lambda url: [sys.executable, "-c", "import time; time.sleep(60)"]))
    assert children(os.getpid()) == [], "the console outlived the sim"


def test_state_dir_keeps_the_flash_across_sim_runs(tmp_path):
    with Sim("--state-dir", str(tmp_path)) as s:
        assert s.probe_link().ask("save across") == "saved"
    with Sim("--state-dir", str(tmp_path)) as s:
        assert s.probe_link().ask("load") == "rec across"


def test_a_key_file_everyone_may_read_is_refused_in_one_line(tmp_path):
    keys = tmp_path / "ops.keys"
    keys.write_text("1 %s\n" % bytes(32).hex())
    keys.chmod(0o644)
    p = sim_cli("--keys", str(keys))
    assert p.returncode == 1
    assert p.stderr.strip() == "sim: key file %s is readable by everyone: chmod 600 %s" % (keys, keys)
