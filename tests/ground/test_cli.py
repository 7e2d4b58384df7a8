"""The command-line tools: golden outputs, exit codes, one line per mistake, no traceback."""

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import dictionary as d
from firmware import packet
from ground import errors
from ground.__main__ import main
from ground.archive import Archive

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dictionary_output_matches_the_golden_file(capsys):
    # After a dictionary change: python -m ground dictionary > tests/ground/golden/dictionary.txt
    code, out, err = run(capsys, "dictionary")
    assert (code, err) == (0, "")
    assert out == (GOLDEN / "dictionary.txt").read_text()


@pytest.mark.parametrize("argv, code, message", [
    (("send", "loop://", "NOPE"), errors.USAGE, "ground: unknown command 'NOPE' (see: ground dictionary)\n"),
    (("send", "loop://", "FIRE", "9"), errors.USAGE, "ground: FIRE: slot=9 is outside 1..4\n"),
    (("send", "loop://", "FIRE"), errors.USAGE,
     "ground: FIRE takes 1 argument, got 0 (usage: FIRE slot(1..4))\n"),
    (("send", "loop://", "FIRE", "two"), errors.USAGE,
     "ground: FIRE: slot must be an integer, got 'two' (usage: FIRE slot(1..4))\n"),
    (("send", "loop://", "FIRE", "2"), errors.USAGE, "ground: FIRE 2: release slot 2, burning its actuator until its "
     "switch confirms release (at most 1 + RETRIES burns) (hazardous: add --yes to send it)\n"),
    (("send", "loop://", "ARM"), errors.USAGE, "ground: ARM: switch the arm-enable line on (actuator supply) and open "
     "the arm window for FIRE, for as long as the ARM_WINDOW parameter says (hazardous: add --yes to send it)\n"),
    (("send", "loop://", "FIRE_SEQUENCE", "3", "0", "--yes"), errors.USAGE,
     "ground: FIRE_SEQUENCE: slots is a list like 1,2 (two or more of 1|2|3|4), got '3': a single number is "
     "refused, as it could be read as a bitmask\n"),
    (("send", "loop://", "FIRE_SEQUENCE", "2,1", "0", "--yes"), errors.USAGE,
     "ground: FIRE_SEQUENCE: slots are taken in ascending order, each once: write 1,2\n"),
    (("send", "loop://", "PARAM_GET", "ARM_WIN"), errors.USAGE,
     "ground: PARAM_GET: id is one of ARM_WINDOW|BURN_MAX|RETRIES|COOLDOWN|DEBOUNCE|HK_PERIOD|HK_ENABLED "
     "(or its number), got 'ARM_WIN'\n"),
    (("send", "loop://", "PARAM_SET", "ARM_WINDOW", "1"), errors.USAGE,
     "ground: PARAM_SET: ARM_WINDOW=1 is outside 5..3600\n"),
    (("send", "/dev/nonexistent-port", "PING"), errors.LINK,
     "ground: cannot open /dev/nonexistent-port: [Errno 2] could not open port /dev/nonexistent-port: "
     "[Errno 2] No such file or directory: '/dev/nonexistent-port'\n"),
    (("bogus",), errors.USAGE, "ground: argument SUBCOMMAND: invalid choice: 'bogus' (choose from 'send', "
     "'monitor', 'record', 'replay', 'plot', 'dictionary', 'console', 'xtce', 'serve') (see: ground --help)\n"),
    (("replay", "/nonexistent.sqlite"), errors.USAGE,
     "ground: archive /nonexistent.sqlite: [Errno 2] No such file or directory: '/nonexistent.sqlite'\n"),
    (("send", "socket://127.0.0.1", "PING"), errors.USAGE,
     "ground: bad link URL 'socket://127.0.0.1': expected socket://HOST:PORT, PORT from 1 to 65535\n"),
    (("monitor", "socket://127.0.0.1:99999"), errors.USAGE,
     "ground: bad link URL 'socket://127.0.0.1:99999': expected socket://HOST:PORT, PORT from 1 to 65535\n"),
    (("monitor", "loop://", "--timeout", "3"), errors.USAGE,
     "ground: unrecognized arguments: --timeout 3 (see: ground --help)\n"),
    (("record", "loop://", "--db", "x.sqlite", "--json"), errors.USAGE,
     "ground: unrecognized arguments: --json (see: ground --help)\n"),
])
def test_operator_mistakes_give_one_line_and_a_meaningful_exit_code(capsys, argv, code, message):
    assert run(capsys, *argv) == (code, "", message)


def test_send_prints_stages_and_the_reports_caused_then_exits_0_on_completion(capsys, fw):
    code, out, err = run(capsys, "send", fw.url, "FIRE", "1", "--yes")
    assert (code, err) == (0, "")
    lines = [re.sub(r"^ +(\d+\.\d+s )?(T\+\S+ )?", "", line) for line in out.splitlines()]  # no times
    assert lines[0] == ("HAZARDOUS FIRE 1: release slot 1, burning its actuator until its switch confirms release "
                        "(at most 1 + RETRIES burns)")
    assert lines[1:6] == ["ACCEPTED", "STARTED", "PROGRESS step 1", "EVENT_INFO RELEASED slot=1 attempt=1",
                          "COMPLETED"]
    assert lines[6].startswith("FIRE 1 [0x18C1") and lines[6].endswith("] COMPLETED")


def test_send_yes_says_in_words_which_slots_a_sequence_releases_and_sends_their_bitmask(capsys, fw):
    code, out, err = run(capsys, "send", fw.url, "FIRE_SEQUENCE", "1,2", "0", "--yes")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "HAZARDOUS FIRE_SEQUENCE 1,2 0: release slots 1 and 2, in that order, 0 s apart"
    function = d.command("FIRE_SEQUENCE").function
    assert fw.tcs[-1][packet.TC_HEADER:-packet.CRC_LEN] == struct.pack(">HBH", function, 0b0011, 0)  # slot bits


def test_send_exits_1_with_the_reason_when_the_payload_refuses(capsys, fw):
    fw.refuse["ARM"] = d.RBF_INSERTED
    code, _out, err = run(capsys, "send", fw.url, "ARM", "--yes")
    assert code == errors.FAILED
    assert err.startswith("ground: ARM failed: ACCEPT_FAILED RBF_INSERTED (remove-before-flight plug is in)")


def test_send_exits_4_when_verification_times_out(capsys, fw):
    fw.drop = 10
    code, _out, err = run(capsys, "send", fw.url, "PING", "--timeout", "0.2", "--retries", "1")
    assert code == errors.TIMEOUT
    assert err == "ground: PING: no report for 0.2 s after sending (2 attempts): outcome unknown, check telemetry\n"


def test_monitor_prints_text_or_json_lines(capsys, fw):
    fw.send_hk(state=d.ARMED, temperature=900)
    fw.send_event(d.EV_SLOT_FAILED, 3, 3)
    code, out, err = run(capsys, "monitor", fw.url, "--count", "2", "--duration", "5")
    assert code == 0 and err.endswith("link: 2 packets; frames dropped: 0 bad CRC, 0 oversize, 0 undecodable; "
                                      "0 foreign (another APID); 0 malformed, 0 impossible time; TM gaps 0 "
                                      "(0 lost), 0 repeated, 0 stepped back; 0 reconnects\n")
    hk, event = out.splitlines()
    assert "HK sid=1 state=ARMED" in hk and "temperature=90.0 C !LIMIT" in hk
    assert event == "T+1.000s EVENT_HIGH SLOT_FAILED slot=3 attempt=3"
    fw.send_event(d.EV_RELEASED, 2, 1)
    code, out, _err = run(capsys, "monitor", fw.url, "--json", "--count", "1", "--duration", "5")
    assert json.loads(out)["event"] == "RELEASED" and json.loads(out)["values"] == {"slot": 2, "attempt": 1}


def test_monitor_stops_after_duration_with_exit_0(capsys, fw):
    assert run(capsys, "monitor", fw.url, "--duration", "0.2")[0] == 0


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def test_help_documents_every_exit_code_and_each_subcommand_only_its_own(capsys):
    top = _help(capsys)
    assert all("\n  %d  " % code in top for code in range(6))
    assert "4  verification timeout" in _help(capsys, "send")
    monitor = _help(capsys, "monitor")
    assert "3  link" in monitor and "verification timeout" not in monitor and "--timeout" not in monitor
    assert "exit codes:\n  0  success\n" in _help(capsys, "dictionary") and "  1  " not in _help(capsys, "dictionary")


def test_junk_dropped_and_foreign_packets_are_reported_by_record(capsys, fw, tmp_path):
    fw.send_raw(b"\x05junk\x00")
    fw.send_foreign(0x123, 17, 2)
    fw.send_hk()
    code, out, err = run(capsys, "record", fw.url, "--db", str(tmp_path / "a.sqlite"), "--count", "2",
                         "--duration", "5")
    assert code == 0 and out == "recorded 2 packets to %s\n" % (tmp_path / "a.sqlite")
    assert "link: 1 packets; frames dropped: 0 bad CRC, 0 oversize, 1 undecodable; 1 foreign (another APID)" in err


def test_send_prints_every_report_a_command_caused_decoded(capsys, fw):
    for command, shown in ((("PARAM_GET", "ARM_WINDOW"), "PARAM id=ARM_WINDOW value=60"),
                           (("TIME_REPORT",), "TIME days=25000 d ms=3600000 ms correlated=YES "
                                              "= 2026-06-13T01:00:00.000Z"),
                           (("SCHED_LIST",), "SCHEDULE enabled=YES {request_id=0x18C1C123 days=25000 d "
                                             "ms=3600000 ms = 2026-06-13T01:00:00.000Z}")):
        code, out, _err = run(capsys, "send", fw.url, *command)
        assert code == 0 and shown in out


def test_a_plot_that_cannot_be_written_exits_5_not_as_a_refusal(capsys, fw, tmp_path):
    db = str(tmp_path / "a.sqlite")
    fw.send_hk()
    assert run(capsys, "record", fw.url, "--db", db, "--count", "1", "--duration", "5")[0] == 0
    code, out, err = run(capsys, "plot", db, "--out", str(tmp_path / "no-such-dir" / "hk.png"))
    assert (code, out) == (errors.LOCAL, "") and err.startswith("ground: cannot write ")
    assert len(err.splitlines()) == 1


def test_replay_into_a_reader_that_stops_early_ends_quietly(fw, tmp_path):
    db = tmp_path / "a.sqlite"
    archive = Archive(str(db))
    for _ in range(2000):
        archive.store(_pong(), 0.0)
    archive.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run("%s -m ground replay %s | head -2" % (sys.executable, db), shell=True, capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=60, executable="/bin/bash")
    assert p.stdout == "=== before sessions were recorded\n1970-01-01T00:00:00.000Z T+1.000s PONG\n"
    assert p.stderr == ""
    p = subprocess.run("set -o pipefail; %s -m ground replay %s | head -1 > /dev/null" % (sys.executable, db),
                       shell=True, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                       executable="/bin/bash")
    assert p.returncode == 0


def _pong():
    w = packet.TmWriter()
    return bytes(w.buf[:w.finish(17, 2, 0, 0, 1000)])


def test_ground_is_on_the_venvs_path():
    ground = Path(sys.executable).parent / "ground"
    p = subprocess.run([str(ground), "dictionary"], capture_output=True, text=True, timeout=30, cwd="/")
    assert p.returncode == 0 and p.stdout.startswith("command ")


def test_python_without_the_projects_packages_gets_one_line_not_a_traceback():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-S", "-m", "ground", "dictionary"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=30)  # -S: no site-packages, as a bare system Python
    assert p.returncode == errors.USAGE and "Traceback" not in p.stderr
    assert p.stderr.startswith("ground: No module named ") and p.stderr.endswith(
        "run it from the project's venv (make venv; then . .venv/bin/activate)\n")


def test_installed_entry_point_reports_a_missing_port_without_traceback():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "ground", "monitor", "/dev/nonexistent-port"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=30)
    assert p.returncode == errors.LINK
    assert p.stderr.startswith("ground: cannot open /dev/nonexistent-port") and "Traceback" not in p.stderr
