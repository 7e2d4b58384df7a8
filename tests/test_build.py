"""ground.build: one compile step for everyone, and an image manifest that cannot drift from it."""

from pathlib import Path

import pytest

from ground import build

ROOT = Path(__file__).resolve().parents[1]
MPY_VERSION = 6  # .mpy header byte 1: what MicroPython 1.23 and later load
BOARD_SMALL_INT_BITS = 31  # header byte 3: a 32-bit board refuses an .mpy that needs more


def _manifest():
    """(package name, files, base_path) and the top-level modules of firmware/manifest.py,
    read by running it with stand-ins for MicroPython's makemanifest functions."""
    found = {"packages": [], "modules": []}

    def package(name, files=None, base_path=".", opt=None):
        found["packages"].append((name, tuple(files or ()), base_path))

    def module(path, base_path=".", opt=None):
        found["modules"].append(path)

    def metadata(**_kwargs):
        pass

    exec((ROOT / "firmware" / "manifest.py").read_text(), {"package": package, "module": module,
                                                           "metadata": metadata})
    return found


def test_the_image_manifest_freezes_exactly_the_package_and_the_launcher():
    found = _manifest()
    assert found["packages"] == [("firmware", tuple(p.name for p in build.package_sources()), "..")]
    assert found["modules"] == [build.LAUNCHER]


def test_the_package_leaves_out_the_launcher_and_the_cpython_only_files():
    names = {p.name for p in build.package_sources()}
    assert names.isdisjoint({"main.py", "dictionary.py", "manifest.py"})
    assert {"app.py", "board_nucleo.py", "tables.py"} <= names


def test_every_module_is_compiled_into_bytecode_a_32_bit_board_loads(tmp_path):
    built = build.compile_package(tmp_path)
    assert [p.name for p in built] == [p.stem + ".mpy" for p in build.package_sources()]
    for mpy in built:
        header = mpy.read_bytes()[:4]
        assert (header[:2], header[3]) == (b"M" + bytes([MPY_VERSION]), BOARD_SMALL_INT_BITS), mpy.name


def test_a_module_whose_source_is_gone_is_removed_from_the_output(tmp_path):
    (tmp_path / "retired.mpy").write_bytes(b"M")
    build.compile_package(tmp_path)
    assert not (tmp_path / "retired.mpy").exists()


def test_an_up_to_date_module_is_not_compiled_again(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    dst = build.compile_module(src, tmp_path / "m.mpy")
    first = dst.stat().st_mtime_ns
    build.compile_module(src, dst)
    assert dst.stat().st_mtime_ns == first


def test_a_syntax_error_is_a_one_line_build_error_and_leaves_no_output(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("def f(:\n")
    with pytest.raises(build.BuildError, match=r"^mpy-cross bad\.py: .*SyntaxError") as e:
        build.compile_module(src, tmp_path / "bad.mpy")
    assert "\n" not in str(e.value)
    assert list(tmp_path.glob("bad.mpy*")) == []


def test_make_mpy_compile_entry_point_builds_the_package_and_the_launcher(tmp_path, capsys):
    assert build.main([str(tmp_path / "firmware")]) == 0
    assert (tmp_path / "main.mpy").exists() and (tmp_path / "firmware" / "app.mpy").exists()
    assert "compiled %d package modules" % len(build.package_sources()) in capsys.readouterr().out
