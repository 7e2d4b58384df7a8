"""Archive, replay and plot: what was recorded plays back exactly as it was seen live."""

import datetime
import json
import re
import sqlite3
import struct
import time

import pytest

from firmware import dictionary as d
from ground import software_version
from ground.__main__ import main
from ground.archive import Archive, open_existing
from ground.client import Client
from ground.codec import build, decode
from tests.ground.fakefw import hk_data, tm_packet


def _traffic(fw, client):
    client.send("PING")
    client.send("FIRE", 2, confirm=True)
    for i in range(5):
        fw.send_hk(uptime=i, temperature=200 + 100 * i, arm_left=60 - i)
    fw.send_event(d.EV_SWITCH_BOUNCE, 2)
    fw.send_raw(b"\x11\x22junk\x00")
    return client.await_event("SWITCH_BOUNCE", timeout=2, since=0)


def test_replay_of_an_archive_equals_the_live_decode(tmp_path, capsys, fw):
    db = str(tmp_path / "a.sqlite")
    archive = Archive(db)
    with Client(fw.url, archive=archive) as c:
        _traffic(fw, c)
        live = [json.dumps(r.to_json()) for r in c.records()]
    archive.close()
    assert main(["replay", db, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [json.dumps(row) for row in rows if "name" in row] == live
    assert [row["tc"] for row in rows if "tc" in row] == ["PING", "FIRE 2"]


def test_record_then_replay_as_text_shows_the_lines_of_monitor_after_their_ground_time(tmp_path, capsys, fw):
    db = str(tmp_path / "r.sqlite")
    fw.send_hk(state=d.ARMED)
    fw.send_event(d.EV_ARMED, 60)
    assert main(["monitor", fw.url, "--db", db, "--count", "2", "--duration", "5"]) == 0
    monitored = capsys.readouterr().out.splitlines()
    assert main(["replay", db, "--type", "TM"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.startswith("=== session 1: ") and fw.url in header
    assert [row.split(" ", 1)[1] for row in rows] == monitored
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row.split(" ", 1)[0]) for row in rows)


def test_record_reports_how_many_packets_it_archived(tmp_path, capsys, fw):
    db = str(tmp_path / "r.sqlite")
    fw.send_hk()
    assert main(["record", fw.url, "--db", db, "--count", "1", "--duration", "5"]) == 0
    assert capsys.readouterr().out == "recorded 1 packets to %s\n" % db
    assert len(Archive(db).frames("TM")) == 1


def test_plot_draws_housekeeping_to_a_png(tmp_path, capsys, fw):
    db = str(tmp_path / "p.sqlite")
    archive = Archive(db)
    with Client(fw.url, archive=archive) as c:
        _traffic(fw, c)
    archive.close()
    out = tmp_path / "hk.png"
    assert main(["plot", db, "--out", str(out), "--fields", "temperature,arm_left"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == "plotted 5 housekeeping reports to %s\n" % out


def test_plot_draws_an_enum_over_its_names_and_refuses_a_set_of_flags_in_one_line(tmp_path, capsys, fw):
    import matplotlib

    db = str(tmp_path / "s.sqlite")
    archive = Archive(db)
    with Client(fw.url, archive=archive) as c:
        for state in (d.SAFE, d.ARMED, d.FIRING, d.SAFE):
            fw.send_hk(state=state)
        c.await_hk(state="SAFE", since=3, timeout=2)
    archive.close()
    out = tmp_path / "state.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, so that the labels can be read
        assert main(["plot", db, "--out", str(out), "--fields", "state"]) == 0
    svg = out.read_text()
    assert all(">%s<" % name in svg for name in d.CONTROLLER_STATES)
    capsys.readouterr()
    assert main(["plot", db, "--out", str(out), "--fields", "state,inputs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ground: inputs: a set of flags or a count per slot, not one value to plot")
    assert err.count("\n") == 1


def test_plot_refuses_an_unknown_field_in_one_line(tmp_path, capsys):
    db = str(tmp_path / "e.sqlite")
    Archive(db).close()
    assert main(["plot", db, "--out", str(tmp_path / "x.png"), "--fields", "nope"]) == 2
    assert capsys.readouterr().err.startswith("ground: not a housekeeping field: nope (fields: sid state")


def test_a_failing_archive_does_not_stop_the_link(tmp_path, fw):
    archive = Archive(str(tmp_path / "f.sqlite"))
    archive.close()  # every store now fails
    with Client(fw.url, archive=archive) as c:
        assert c.send("PING").ok
    assert archive.errors >= 2 and "closed" in archive.last_error


# --- sessions, ground time on every row, replay filters and markers (issue 14, point 11) ---------

T0 = datetime.datetime(2026, 6, 13, 10, tzinfo=datetime.UTC).timestamp()  # a ground time
DAY_MS = 86400000


def _session(archive, link, rows, start):
    """A session of ``rows``: (ground time offset, direction, packet, client)."""
    archive.start_session(link, start)
    for dt, direction, raw, client in rows:
        archive.store(raw, start + dt, direction, client)
    archive.end_session(start + rows[-1][0] + 1)


def _hk(ms, days=0, **values):
    return tm_packet(3, 25, hk_data(**values), days=days, ms=ms)


@pytest.fixture
def two_sessions(tmp_path):
    db = str(tmp_path / "s.sqlite")
    archive = Archive(db)
    ping = build("PING", [], lambda: 1).packet  # request id 0x18C1C001
    _session(archive, "socket://127.0.0.1:5555", [
        (0.0, "TM", _hk(5000), None),
        (1.0, "TC", ping, "#1 console alice@desk"),
        (1.1, "TM", tm_packet(5, 1, struct.pack(">HH", d.EV_ARMED, 60), ms=6100), None),
        (2.0, "TM", _hk(7000), None),
        (3.0, "TM", _hk(1000, boot_count=2), None),  # on-board time went back: the payload reset
        (4.0, "TM", _hk(3600000, days=25000), None),  # then time was set (TIME_SET)
    ], T0)
    _session(archive, "/dev/ttyACM0", [(0.0, "TM", _hk(9000), None)], T0 + 3600)
    archive.close()
    return db


def test_each_session_records_its_start_end_link_and_software_version(two_sessions):
    archive = open_existing(two_sessions)
    sessions = archive.sessions()
    archive.close()
    assert [(s.id, s.start, s.end, s.link) for s in sessions] == [
        (1, T0, T0 + 5, "socket://127.0.0.1:5555"), (2, T0 + 3600, T0 + 3601, "/dev/ttyACM0")]
    assert all(s.version == software_version() != "unknown" for s in sessions)


def test_replay_gives_every_row_its_ground_time_tcs_included_and_who_sent_them(two_sessions, capsys):
    assert main(["replay", two_sessions, "--session", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("=== session 1: 2026-06-13T10:00:00.000Z .. 2026-06-13T10:00:05.000Z, "
                        "socket://127.0.0.1:5555, %s" % software_version())
    assert lines[2] == "2026-06-13T10:00:01.000Z TC PING [0x18C1C001] by #1 console alice@desk"
    assert lines[3].startswith("2026-06-13T10:00:01.100Z T+6.100s EVENT_INFO ARMED")


def test_replay_marks_on_board_time_going_back_and_jumping_ahead(two_sessions, capsys):
    assert main(["replay", two_sessions, "--session", "1", "--type", "HK"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == ("--- on-board time went back 6.000 s (T+7.000s to T+1.000s): the payload reset, "
                        "or its time was set back")
    assert "boot_count=2" in lines[4]
    assert lines[5].startswith("--- on-board time jumped ")
    assert lines[5].endswith("(T+1.000s to 2026-06-13T01:00:00.000Z): its time was set")
    assert len(lines) == 7


@pytest.mark.parametrize("options, shown", [
    (["--type", "TC"], ["PING"]),
    (["--type", "EVENT"], ["ARMED"]),
    (["--type", "armed,tc"], ["PING", "ARMED"]),
    (["--since", "2026-06-13T10:00:02", "--until", "2026-06-13T10:00:04Z", "--type", "HK"], ["HK", "HK"]),
    (["--since", "2026-06-13T11:30:00+01:00", "--type", "HK"], ["HK"]),  # a time zone is honoured
    (["--session", "last"], ["HK"]),
])
def test_replay_shows_only_the_rows_its_filters_ask_for(two_sessions, capsys, options, shown):
    assert main(["replay", two_sessions, "--json", *options]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("tc") or r.get("event") or r["name"] for r in rows if "session" not in r and "obt_jump" not in r] \
        == shown


def test_replay_lists_the_sessions_of_an_archive(two_sessions, capsys):
    assert main(["replay", two_sessions, "--sessions"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 2026-06-13T10:00:00.000Z .. 2026-06-13T10:00:05.000Z socket://127.0.0.1:5555 %s" % software_version(),
        "2 2026-06-13T11:00:00.000Z .. 2026-06-13T11:00:01.000Z /dev/ttyACM0 %s" % software_version()]


@pytest.mark.parametrize("options, message", [
    (["--type", "HK,NOPE"], "--type: unknown NOPE (one or more of TC|TM|EVENT|LINK|CLIENT|AUTHORITY|APPROVAL|"
                            "COMMAND|PROCEDURE, or a telemetry or event name: see ground dictionary)"),
    (["--since", "yesterday"], "--since: 'yesterday' is not a time like 2026-06-13T10:00:00Z or 2026-06-13"),
    (["--session", "7"], "--session: '7' is not a session of this archive (sessions 1..2; see --sessions)"),
])
def test_replay_refuses_a_wrong_filter_in_one_line(two_sessions, capsys, options, message):
    assert main(["replay", two_sessions, *options]) == 2
    assert capsys.readouterr().err == "ground: %s\n" % message


def test_an_archive_from_before_sessions_gains_them_and_still_replays(tmp_path, capsys):
    db = str(tmp_path / "old.sqlite")
    old = sqlite3.connect(db)
    old.execute("CREATE TABLE frames (id INTEGER PRIMARY KEY, t REAL NOT NULL, direction TEXT NOT NULL, "
                "packet BLOB NOT NULL)")
    old.execute("INSERT INTO frames (t, direction, packet) VALUES (?, 'TM', ?)", (T0, _hk(5000)))
    old.commit()
    old.close()
    assert main(["replay", db]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "=== before sessions were recorded", "2026-06-13T10:00:00.000Z T+5.000s HK sid=1 state=SAFE" +
        str(decode(_hk(5000))).split("HK sid=1 state=SAFE")[1]]


def test_a_session_cut_short_by_a_kill_says_so(tmp_path, capsys):
    db = str(tmp_path / "k.sqlite")
    archive = Archive(db)
    archive.start_session("socket://x:1", T0)
    archive.store(_hk(5000), T0 + 1)
    archive.flush()  # then the process dies: no end_session, no close
    assert main(["replay", db, "--sessions"]) == 0
    assert "2026-06-13T10:00:00.000Z .. cut-short socket://x:1" in capsys.readouterr().out


def test_rows_are_committed_without_a_flush_within_the_commit_window(tmp_path):
    archive = Archive(str(tmp_path / "w.sqlite"))
    archive.store(_hk(5000), T0)
    deadline = time.monotonic() + 2.0  # the window is 0.1 s; the rest is slack for a loaded machine
    while not _committed(archive.path):
        assert time.monotonic() < deadline, "no commit within 2 s"
        time.sleep(0.01)
    archive.close()


def _committed(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM frames").fetchone()[0]
    finally:
        db.close()
