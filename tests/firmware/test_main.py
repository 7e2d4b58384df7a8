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


def test_a_maintenance_flag_skips_the_application_once_and_is_consumed():
    root = fresh_dir("main_flag")
    write(root, "maintenance", "")
    write(root, "app", "b")
    assert launcher.boot(root) is None
    assert not exists(root, "maintenance")
    assert launcher.boot(root) == root + "/b"


def test_a_maintenance_boot_starts_nothing():
    root = fresh_dir("main_nothing")
    write(root, "maintenance", "")
    started = []
    real_start = launcher.start
    launcher.start = lambda: started.append(True)
    try:
        launcher.main(root)
    finally:
        launcher.start = real_start
    assert started == []


def test_without_a_flag_the_application_starts():
    root = fresh_dir("main_start")
    started = []
    real_start = launcher.start
    launcher.start = lambda: started.append(True)
    try:
        launcher.main(root)
    finally:
        launcher.start = real_start
    assert started == [True]


def test_the_pointer_names_the_slot_put_first_on_the_path():
    root = fresh_dir("main_slot")
    write(root, "app", "a\n")
    assert launcher.boot(root) == root + "/a"


def test_the_old_pointer_wins_until_it_is_removed():
    root = fresh_dir("main_commit")
    write(root, "app", "a")
    write(root, "app.new", "b")
    assert launcher.boot(root) == root + "/a"


def test_a_reset_between_removing_the_pointer_and_the_rename_boots_the_new_slot():
    root = fresh_dir("main_rename")
    write(root, "app.new", "b")
    assert launcher.boot(root) == root + "/b"


def test_a_torn_new_pointer_beside_the_old_one_is_ignored():
    root = fresh_dir("main_torn")
    write(root, "app", "a")
    write(root, "app.new", "")
    assert launcher.boot(root) == root + "/a"


def test_no_pointer_runs_the_package_already_on_the_path():
    root = fresh_dir("main_none")
    assert launcher.boot(root) == ""
    write(root, "app", "garbage")
    assert launcher.boot(root) == ""
