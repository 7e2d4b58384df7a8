"""ground.deploy against stand-in mpremote, dfu-util and st-flash executables
(tests/standins/board_tools.py): the exact command lines, the maintenance boot, and a reset
at every moment of a reflash leaving the old or the new application to boot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import main as launcher
from ground import build, deploy

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "standins" / "board_tools.py"
TOOLS = (("mpremote", "MPREMOTE"), ("dfu-util", "DFU_UTIL"), ("st-flash", "STFLASH"))
LEGACY_MAIN = b"from firmware.board_nucleo import Board\n"  # a main.py that knows no maintenance boot


class Bench:
    """The stand-ins' state: the board's /flash, what it runs, the command lines they got."""

    def __init__(self, tmp_path):
        self.state = tmp_path / "board"
        self.flash = self.state / "flash"
        self.flash.mkdir(parents=True)
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.port = str(tmp_path / "ttyACM0")
        Path(self.port).touch()

    def exe(self, name):
        return str(self.bin / name)

    def calls(self, tool=None):
        lines = (self.state / "log.jsonl").read_text().splitlines() if (self.state / "log.jsonl").exists() else []
        return [c["argv"] for c in map(json.loads, lines) if tool in (None, c["tool"])]

    def board(self, **settings):
        path = self.state / "board.json"
        current = json.loads(path.read_text()) if path.exists() else {}
        if settings:
            path.write_text(json.dumps({**current, **settings}))
        return current

    def install_old(self, slot="a", other=None):
        """A board running an older application from ``slot`` with this launcher; ``other``
        names a slot holding an even older one."""
        (self.flash / "main.py").write_bytes(launcher_bytes())
        (self.flash / "app").write_text(slot)
        (self.flash / slot / "firmware").mkdir(parents=True)
        for m in new_mpys():
            (self.flash / slot / "firmware" / m.name).write_bytes(b"old " + m.name.encode())
        if other:
            (self.flash / other / "firmware").mkdir(parents=True)
            (self.flash / other / "firmware" / "app.mpy").write_bytes(b"older")
        self.board(state="app", wdt=True, running=str(self.flash / slot))

    def files(self, slot):
        d = self.flash / slot / "firmware"
        return {p.name: p.read_bytes() for p in d.iterdir()} if d.is_dir() else {}


def launcher_bytes():
    return (build.SOURCE / build.LAUNCHER).read_bytes()


def new_mpys():
    return build.compile_package()


@pytest.fixture
def bench(tmp_path, monkeypatch):
    b = Bench(tmp_path)
    for name, env in TOOLS:
        Path(b.exe(name)).write_text('#!/bin/sh\nexec "%s" -S "%s" %s "$@"\n' % (sys.executable, STANDIN, name))
        os.chmod(b.exe(name), 0o755)
        monkeypatch.setenv(env, b.exe(name))
    monkeypatch.setenv("STANDIN_STATE", str(b.state))
    monkeypatch.setattr(deploy, "BOOT_PAUSE_S", 0)
    return b


def flash_step(slot):
    return ["cp", *[str(m) for m in new_mpys()], ":/flash/%s/firmware/" % slot]


def test_install_reboots_into_maintenance_then_copies_into_the_other_slot_and_commits(bench):
    bench.install_old("a")
    assert deploy.main(["--port", bench.port]) == 0
    mp = bench.exe("mpremote")
    assert bench.calls("mpremote") == [
        ["connect", bench.port, "exec", deploy._ENTER, "+", "reset"],
        ["connect", bench.port, "exec", deploy._STATUS],  # the board is still booting: retried
        ["connect", bench.port, "exec", deploy._STATUS],
        ["connect", bench.port, "exec", deploy._stage("b"), "+", *flash_step("b"), "+",
         "exec", deploy._commit("b"), "+", "reset"],
    ]
    assert mp.endswith("mpremote")
    assert (bench.flash / "app").read_text() == "b"
    assert bench.files("b") == {m.name: m.read_bytes() for m in new_mpys()}
    assert set(bench.files("a").values()) == {b"old " + m.name.encode() for m in new_mpys()}
    assert bench.board()["running"] == str(bench.flash / "b")


def test_the_next_install_goes_back_to_the_first_slot(bench):
    bench.install_old("b")
    assert deploy.main(["--port", bench.port]) == 0
    assert (bench.flash / "app").read_text() == "a"
    assert bench.board()["running"] == str(bench.flash / "a")


def test_the_launcher_is_replaced_through_a_rename_only_when_it_differs(bench):
    (bench.flash / "main.py").write_bytes(launcher_bytes() + b"# an older launcher\n")
    bench.board(state="repl", wdt=False)
    assert deploy.main(["--port", bench.port]) == 0
    last = bench.calls("mpremote")[-1]
    i = last.index(":/flash/a/firmware/")
    assert last[i + 1:] == ["+", "cp", str(build.SOURCE / "main.py"), ":/flash/main.new", "+",
                            "exec", deploy._RENAME_LAUNCHER, "+", "exec", deploy._commit("a"), "+", "reset"]
    assert (bench.flash / "main.py").read_bytes() == launcher_bytes()


def test_a_board_whose_main_py_ignores_the_flag_gets_the_launcher_before_anything_else(bench):
    (bench.flash / "main.py").write_bytes(LEGACY_MAIN)
    (bench.flash / "firmware").mkdir()
    (bench.flash / "firmware" / "app.mpy").write_bytes(b"legacy")
    bench.board(state="app", wdt=True, running="legacy", wdt_writes=3)
    assert deploy.main(["--port", bench.port]) == 0
    calls = bench.calls("mpremote")
    assert calls[3] == ["connect", bench.port, "cp", str(build.SOURCE / "main.py"), ":/flash/main.new", "+",
                        "exec", deploy._RENAME_LAUNCHER]
    assert calls[4] == ["connect", bench.port, "reset"]
    assert bench.board()["running"] == str(bench.flash / "a")
    assert not (bench.flash / "firmware").exists()  # the older layout is gone once a slot boots


def test_the_copy_runs_with_no_watchdog_however_long_it_takes(bench):
    bench.install_old("a")
    bench.board(wdt_writes=1)  # the application's watchdog would reset the board after one write
    assert deploy.main(["--port", bench.port]) == 0
    assert bench.board()["running"] == str(bench.flash / "b")


def _bootable(bench):
    """The files of the application the board runs after at most one maintenance boot."""
    state = bench.board()
    if state["state"] == "repl":  # a maintenance boot: the next reset runs the application
        decision = launcher.boot(str(bench.flash))
        assert decision is not None, "two maintenance boots in a row"
        state = {"state": "app", "running": decision}
    assert state["state"] == "app", state
    return bench.files(Path(state["running"]).name)


def test_a_power_cut_at_any_flash_operation_of_a_reflash_leaves_the_old_or_the_new_application(bench):
    """Every operation but the module copies, which are alike: the first, a middle and the last."""
    bench.install_old("a", other="b")
    old = bench.files("a")
    new = {m.name: m.read_bytes() for m in new_mpys()}
    bench.board(ops=0, oplog=[], boot_delay=0)
    assert deploy.main(["--port", bench.port]) == 0
    oplog = bench.board()["oplog"]
    copies = [i for i, op in enumerate(oplog, 1) if op.startswith("write /flash/b/firmware/")]
    assert len(copies) == len(new)
    cuts = [i for i in range(1, len(oplog) + 1) if i not in copies] + [copies[0], copies[len(copies) // 2], copies[-1]]
    outcomes = set()
    for cut in sorted(cuts):
        for p in bench.flash.iterdir():
            subprocess.run(["rm", "-rf", str(p)], check=True)
        bench.install_old("a", other="b")
        bench.board(ops=0, oplog=[], cut_after=cut, booting=0)
        code = deploy.main(["--port", bench.port])
        running = _bootable(bench)
        assert running in (old, new), "power cut in %r (operation %d)" % (oplog[cut - 1], cut)
        outcomes.add((code, "new" if running == new else "old"))
        bench.board(cut_after=None, booting=0)  # the operator waits for the board, then runs it again
        assert deploy.main(["--port", bench.port]) == 0, "the reflash after a cut in %r failed" % oplog[cut - 1]
        assert _bootable(bench) == new
    assert outcomes == {(1, "old"), (1, "new")}  # cuts before and after the commit both happened


def test_a_board_that_never_answers_is_a_one_line_error_exit_1(bench, capsys):
    bench.install_old("a")
    bench.board(boot_delay=deploy.BOOT_TRIES + 1)
    assert deploy.main(["--port", bench.port]) == 1
    assert capsys.readouterr().err == "deploy: mpremote failed: mpremote: could not enter raw repl\n"


def test_missing_port_is_one_line_error_and_exit_3(bench, capsys):
    assert deploy.main(["--port", "/dev/does-not-exist"]) == 3
    assert capsys.readouterr().err == "deploy: no such port: /dev/does-not-exist (is the board plugged in?)\n"


def test_a_dfu_image_goes_through_dfu_util_to_the_st_bootloader_and_leaves_it(bench, tmp_path):
    dfu = tmp_path / "firmware.dfu"
    dfu.touch()
    assert deploy.main(["--write-image", str(dfu)]) == 0
    assert bench.calls() == [["-a", "0", "-d", "0x0483:0xdf11", "-D", str(dfu), "-s", ":leave"]]


@pytest.mark.parametrize("given", ["folder", "firmware0.bin"])
def test_the_two_bin_parts_go_through_st_flash_at_text0_then_text1(bench, tmp_path, given):
    build_dir = tmp_path / "build-NUCLEO_F429ZI"
    build_dir.mkdir()
    for name in ("firmware0.bin", "firmware1.bin"):
        (build_dir / name).touch()
    path = build_dir if given == "folder" else build_dir / "firmware0.bin"
    assert deploy.main(["--write-image", str(path)]) == 0
    assert bench.calls("st-flash") == [
        ["--connect-under-reset", "write", str(build_dir / "firmware0.bin"), "0x08000000"],
        ["--connect-under-reset", "--reset", "write", str(build_dir / "firmware1.bin"), "0x08020000"],
    ]


def test_a_missing_second_part_is_a_usage_error_before_anything_is_written(bench, tmp_path, capsys):
    (tmp_path / "firmware0.bin").touch()
    assert deploy.main(["--write-image", str(tmp_path / "firmware0.bin")]) == 2
    assert capsys.readouterr().err == "deploy: missing %s: a NUCLEO_F429ZI build writes firmware0.bin and " \
                                      "firmware1.bin\n" % (tmp_path / "firmware1.bin")
    assert bench.calls() == []


@pytest.mark.parametrize("name", ["firmware.bin", "firmware.hex"])
def test_an_image_that_is_not_the_boards_build_output_is_a_usage_error(bench, tmp_path, capsys, name):
    (tmp_path / name).touch()
    assert deploy.main(["--write-image", str(tmp_path / name)]) == 2
    assert "give a .dfu (dfu-util), or the build folder or its firmware0.bin (st-flash)" in capsys.readouterr().err


def test_a_failing_flash_tool_is_a_one_line_error_exit_1(bench, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STANDIN_FAIL", "dfu-util")
    (tmp_path / "mp.dfu").touch()
    assert deploy.main(["--write-image", str(tmp_path / "mp.dfu")]) == 1
    assert capsys.readouterr().err == "deploy: dfu-util failed: dfu-util: error (injected)\n"


def test_a_missing_flash_tool_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DFU_UTIL", raising=False)
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    monkeypatch.setattr(build.sys, "executable", str(tmp_path / "python"))
    (tmp_path / "mp.dfu").touch()
    assert deploy.main(["--write-image", str(tmp_path / "mp.dfu")]) == 1
    assert capsys.readouterr().err.startswith("deploy: dfu-util not found: install it")


def _make(bench, *args):
    env = dict(os.environ, **{env: bench.exe(name) for name, env in TOOLS})
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_make_flash_installs_through_mpremote_on_the_given_port(bench):
    bench.install_old("a")
    p = _make(bench, "flash", "PORT=" + bench.port)
    assert p.returncode == 0, p.stderr
    assert [c[:3] for c in bench.calls("mpremote")][0] == ["connect", bench.port, "exec"]
    assert (bench.flash / "app").read_text() == "b"


def test_make_flash_keys_installs_the_key_files_keys_on_the_board_and_nowhere_else(bench, tmp_path):
    bench.install_old("a")
    keys = tmp_path / "ops.keys"
    keys.write_text("2 %s\n" % bytes(range(32)).hex())
    keys.chmod(0o600)
    p = _make(bench, "flash", "PORT=" + bench.port, "KEYS=" + str(keys))
    assert p.returncode == 0, p.stderr
    assert (bench.flash / "keys").read_bytes() == bytes(32) + bytes(range(32)) + bytes(64)
    assert (bench.flash / "app").read_text() == "b"


def test_make_flash_refuses_a_world_readable_key_file_before_touching_the_board(bench, tmp_path):
    bench.install_old("a")
    keys = tmp_path / "ops.keys"
    keys.write_text("1 %s\n" % bytes(32).hex())
    keys.chmod(0o644)
    p = _make(bench, "flash", "PORT=" + bench.port, "KEYS=" + str(keys))
    assert p.returncode == 2
    assert "deploy: key file %s is readable by everyone" % keys in p.stderr
    assert bench.calls("mpremote") == []


def test_make_flash_micropython_writes_both_parts_of_a_build_folder(bench, tmp_path):
    for name in ("firmware0.bin", "firmware1.bin"):
        (tmp_path / name).touch()
    p = _make(bench, "flash-micropython", "FIRMWARE=" + str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert [c[-1] for c in bench.calls("st-flash")] == ["0x08000000", "0x08020000"]


def test_compiled_modules_load_and_run_under_the_micropython_unix_port(tmp_path):
    """The installed set is complete: the app boots from the .mpy files alone (no .py)."""
    build.compile_package(tmp_path / "firmware")
    script = tmp_path / "boot_check.py"
    script.write_text(
        "import sys\nsys.path[:] = ['%s', '%s']\n"
        "from tests.firmware.fakes import Rig\n"
        "r = Rig('deploy_check')\nr.run(100)\nprint(r.app.seq.state, list(r.app.state.slots))\n"
        % (tmp_path, ROOT))
    p = subprocess.run([str(Path(sys.executable).parent / "micropython"), str(script)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[0] == "0 [0, 0, 0, 0]"


RECORDS = {"state.rec": b"\x00\x00\x00\x07slots RELEASED\x12\x34", "params.rec": b"\x00\x00\x00\x02p\x00\xff"}


def flown_fat_board(bench, lfs2):
    """A board that has flown: FAT /flash with the application and its records; ``lfs2``: its
    image has littlefs."""
    bench.install_old("a")
    for name, data in RECORDS.items():
        (bench.flash / name).write_bytes(data)
    bench.board(fs="VfsFat", lfs2=lfs2)


def test_to_littlefs_formats_flash_carries_every_record_across_and_installs(bench, capsys):
    flown_fat_board(bench, lfs2=True)
    assert deploy.main(["--port", bench.port, "--to-littlefs"]) == 0
    assert bench.board()["fs"] == "VfsLfs2"
    assert {p.name: p.read_bytes() for p in bench.flash.glob("*.rec")} == RECORDS
    assert not bench.files("b") and bench.files("a") == {m.name: m.read_bytes() for m in new_mpys()}
    assert (bench.flash / "main.py").read_bytes() == launcher_bytes()
    assert bench.board()["running"] == str(bench.flash / "a")
    out = capsys.readouterr().out
    assert "converted to littlefs, records carried across: params.rec, state.rec" in out


def test_to_littlefs_is_refused_in_one_line_when_the_image_has_no_littlefs_and_nothing_changes(bench, capsys):
    flown_fat_board(bench, lfs2=False)
    before = sorted(str(p) for p in bench.flash.rglob("*"))
    assert deploy.main(["--port", bench.port, "--to-littlefs"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no littlefs (vfs.VfsLfs2)" in err[0] and "MICROPY_VFS_LFS2=1" in err[0]
    assert bench.board()["fs"] == "VfsFat" and "mkfs" not in bench.board()["oplog"]
    assert sorted(str(p) for p in bench.flash.rglob("*")) == before  # the maintenance flag consumed at boot
    assert {p.name: p.read_bytes() for p in bench.flash.glob("*.rec")} == RECORDS


def test_a_board_on_littlefs_already_is_installed_without_a_format(bench, capsys):
    flown_fat_board(bench, lfs2=True)
    bench.board(fs="VfsLfs2")
    assert deploy.main(["--port", bench.port, "--to-littlefs"]) == 0
    assert "mkfs" not in bench.board()["oplog"] and (bench.flash / "app").read_text() == "b"
    assert "littlefs already" in capsys.readouterr().out


def test_without_the_flag_a_fat_board_stays_fat(bench):
    flown_fat_board(bench, lfs2=True)
    assert deploy.main(["--port", bench.port]) == 0
    assert bench.board()["fs"] == "VfsFat" and "mkfs" not in bench.board()["oplog"]


def test_to_littlefs_without_a_port_is_a_usage_error(bench, tmp_path):
    with pytest.raises(SystemExit) as e:
        deploy.main(["--write-image", str(tmp_path / "x.dfu"), "--to-littlefs"])
    assert e.value.code == 2
