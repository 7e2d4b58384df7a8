"""ground.deploy: the exact tool command lines, one-line errors, and installable output."""

import subprocess
import sys
from pathlib import Path

import pytest

from ground import deploy

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """Stands in for the tools: records each command line, runs mpy-cross for real."""

    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail

    def __call__(self, cmd):
        self.calls.append(cmd)
        if self.fail and Path(cmd[0]).name == self.fail:
            raise deploy.GroundError("%s failed: could not enter raw repl" % self.fail)
        if Path(cmd[0]).name == "mpy-cross":
            return deploy.run(cmd)
        return ""


@pytest.fixture
def port(tmp_path):
    p = tmp_path / "ttyACM0"
    p.touch()
    return str(p)


def test_install_compiles_every_module_for_the_m4_and_copies_them_in_one_mpremote_session(port):
    rec = Recorder()
    assert deploy.main(["--port", port], runner=rec) == 0
    compiles = [c for c in rec.calls if Path(c[0]).name == "mpy-cross"]
    modules = sorted(p.name for p in (ROOT / "firmware").glob("*.py") if p.name not in deploy.NOT_INSTALLED)
    assert sorted(Path(c[-1]).name for c in compiles) == modules
    assert all(c[1] == "-march=armv7emsp" for c in compiles)
    (mp,) = [c for c in rec.calls if Path(c[0]).name == "mpremote"]
    assert mp[1:4] == ["connect", port, "exec"]
    i = mp.index("cp")
    assert mp[i + 1:i + 1 + len(modules)] == [
        str(ROOT / "build/deploy/firmware" / (m[:-3] + ".mpy")) for m in modules]
    assert mp[i + 1 + len(modules):] == [
        ":/flash/firmware/", "+", "cp", str(ROOT / "firmware/main.py"), ":/flash/main.py", "+", "reset"]


def test_install_never_copies_the_cpython_dictionary_or_the_manifest(port):
    rec = Recorder()
    deploy.main(["--port", port], runner=rec)
    flat = " ".join(" ".join(c) for c in rec.calls)
    assert "dictionary" not in flat and "manifest" not in flat


def test_prepare_step_makes_the_folder_and_removes_stale_modules():
    """A stale .py next to a new .mpy would win the import: the folder is emptied first."""
    ns = {}
    removed = []

    class FakeOs:
        def mkdir(self, p):
            raise OSError(17)

        def listdir(self, p):
            return ["old.py", "app.mpy"]

        def remove(self, p):
            removed.append(p)

    exec(deploy._PREPARE.replace("import os\n", ""), {"os": FakeOs()}, ns)
    assert removed == ["/flash/firmware/old.py", "/flash/firmware/app.mpy"]


def test_missing_port_is_one_line_error_and_exit_3(capsys):
    assert deploy.main(["--port", "/dev/does-not-exist"], runner=Recorder()) == 3
    err = capsys.readouterr().err
    assert err == "deploy: no such port: /dev/does-not-exist (is the board plugged in?)\n"


def test_mpremote_failure_is_one_line_error_exit_1(port, capsys):
    assert deploy.main(["--port", port], runner=Recorder(fail="mpremote")) == 1
    assert capsys.readouterr().err == "deploy: mpremote failed: could not enter raw repl\n"


def test_dfu_image_uses_dfu_util_and_bin_uses_st_flash(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy.shutil, "which", lambda name: "/usr/bin/" + name)
    dfu = tmp_path / "mp.dfu"
    bin_ = tmp_path / "mp.bin"
    dfu.touch()
    bin_.touch()
    assert deploy.image_command(dfu) == ["/usr/bin/dfu-util", "-a", "0", "-D", str(dfu)]
    assert deploy.image_command(bin_) == ["/usr/bin/st-flash", "--reset", "write", str(bin_), "0x08000000"]


def test_missing_flash_tool_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(deploy.shutil, "which", lambda name: None)
    img = tmp_path / "mp.dfu"
    img.touch()
    assert deploy.main(["--write-image", str(img)]) == 1
    assert capsys.readouterr().err.startswith("deploy: dfu-util not found: install it")


def test_unknown_image_type_is_a_usage_error(tmp_path, capsys):
    img = tmp_path / "mp.hex"
    img.touch()
    assert deploy.main(["--write-image", str(img)]) == 2
    assert "give a .dfu (dfu-util) or a .bin (st-flash)" in capsys.readouterr().err


def test_compiled_modules_load_and_run_under_the_micropython_unix_port(tmp_path):
    """The installed set is complete: the app boots from the .mpy files alone (no .py)."""
    out = tmp_path / "firmware"
    deploy.compile_firmware(out=out)
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
