"""Archive, replay and plot: what was recorded plays back exactly as it was seen live."""

import json

from firmware import dictionary as d
from ground.__main__ import main
from ground.archive import Archive
from ground.client import Client


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
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if '"tc"' not in line] == live
    assert [json.loads(line)["tc"] for line in lines if '"tc"' in line] == ["PING", "FIRE 2"]


def test_record_then_replay_as_text_shows_the_same_lines_as_monitor(tmp_path, capsys, fw):
    db = str(tmp_path / "r.sqlite")
    fw.send_hk(state=d.ARMED)
    fw.send_event(d.EV_ARMED, 60)
    assert main(["monitor", fw.url, "--db", db, "--count", "2", "--duration", "5"]) == 0
    monitored = capsys.readouterr().out
    assert main(["replay", db]) == 0
    assert capsys.readouterr().out == monitored


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
