"""The launcher's boot decision (firmware/main.py) on a real filesystem: maintenance boots
are one-shot, and the slot pointer is read so that a reset during its update finds a slot."""

from firmware import main as launcher
from tests.firmware.fakes import fresh_dir


def write(root, name, text):
    with open(root + "/" + name, "w") as f:
        f.write(text)


def exists(root, name):
    try:
        with open(root + "/" + name):
            return True
    except OSError:
        return False


def flash(name, files):
    """A fresh /flash stand-in holding ``files`` ({name: text})."""
    root = fresh_dir(name)
    for f, text in files.items():
        write(root, f, text)
    return root


def boots(name, files):
    """What the launcher decides on a flash holding ``files``, relative to that flash."""
    root = flash(name, files)
    path = launcher.boot(root)
    return path if not path else path[len(root):]


def starts(name, files):
    """Whether main() starts the application on a flash holding ``files``."""
    root = flash(name, files)
    started = []
    real_start = launcher.start
    launcher.start = lambda: started.append(True)
    try:
        launcher.main(root)
    finally:
        launcher.start = real_start
    return started == [True]


def test_a_maintenance_flag_skips_the_application_once_and_is_consumed():
    root = flash("main_flag", {"maintenance": "", "app": "b"})
    assert launcher.boot(root) is None
    assert not exists(root, "maintenance")
    assert launcher.boot(root) == root + "/b"


def test_a_maintenance_boot_starts_nothing_and_a_normal_boot_starts_the_application():
    assert not starts("main_nothing", {"maintenance": ""})
    assert starts("main_start", {})


def test_the_pointer_names_the_slot_put_first_on_the_path():
    assert boots("main_slot", {"app": "a\n"}) == "/a"


def test_the_old_pointer_wins_until_it_is_removed():
    assert boots("main_commit", {"app": "a", "app.new": "b"}) == "/a"


def test_a_reset_between_removing_the_pointer_and_the_rename_boots_the_new_slot():
    assert boots("main_rename", {"app.new": "b"}) == "/b"


def test_a_torn_new_pointer_beside_the_old_one_is_ignored():
    assert boots("main_torn", {"app": "a", "app.new": ""}) == "/a"


def test_no_pointer_runs_the_package_already_on_the_path():
    assert boots("main_none", {}) == ""
    assert boots("main_garbage", {"app": "garbage"}) == ""
