"""The Renode files hold what hil/README.md's facts table requires (Renode cannot run here):
every row's "in our files" text is where it says, the clocks follow MicroPython's PLL setup,
the platform loads with no download, the PWR model answers the backup-regulator poll, the
temperature sensor reads the lab temperature, and make hil-renode runs renode-test the way
its portable build needs, with no .venv."""

import json
import os
import re
import subprocess
import sys
import tomllib

import pytest

from hil import targets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "hil", "README.md")
REPL = os.path.join(ROOT, "hil", "renode", "deployer.repl")
RESC = os.path.join(ROOT, "hil", "renode", "deployer.resc")

# MicroPython v1.28.0, boards/NUCLEO_F429ZI/mpconfigboard.h:11-15 and mpconfigboard_common.h:664-666
HSE_HZ, PLLM, PLLN, PLLP = 8000000, 8, 336, 2
AHB_DIV, APB1_DIV, APB2_DIV = 1, 4, 2


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def table_rows():
    """(number, cells) of the facts table; a cell's escaped \\| is a |."""
    text = read("hil/README.md")
    table = text.split("### Renode and MicroPython facts", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in table.splitlines():
        m = re.match(r"^\| (\d+) \|", line)
        if m:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append((int(m[1]), cells))
    return rows


def test_the_facts_table_is_numbered_and_every_row_cites_upstream_and_our_files():
    rows = table_rows()
    assert [n for n, _ in rows] == list(range(1, len(rows) + 1))
    for n, cells in rows:
        assert len(cells) == 4, n
        assert re.match(r"^(R|I|MP|HAL) ", cells[2]), "row %d cites no upstream source" % n


@pytest.mark.parametrize("number,cells", table_rows(), ids=["row%d" % n for n, _ in table_rows()])
def test_our_files_hold_what_the_facts_table_row_says(number, cells):
    found = re.findall(r"`([\w./-]+)`: `([^`]+)`", cells[3])
    assert found, "row %d names no file and text" % number
    for path, text in found:
        assert text in read(path), "row %d: %s does not contain %r" % (number, path, text)


def repl_value(entry, attribute):
    """The value of ``attribute`` in the .repl's entry ``entry:``."""
    pattern = r"^%s:\n(?:[ \t]+.*\n)*?[ \t]+%s: (\S+)$" % (entry, attribute)
    m = re.search(pattern, read("hil/renode/deployer.repl"), re.M)
    assert m, "%s has no %s" % (entry, attribute)
    return int(m[1], 0)


def test_the_timebases_run_at_the_clocks_micropython_programs():
    sysclk = HSE_HZ // PLLM * PLLN // PLLP
    apb1 = sysclk // AHB_DIV // APB1_DIV
    apb2 = sysclk // AHB_DIV // APB2_DIV
    assert repl_value("nvic", "systickFrequency") == sysclk == 168000000
    assert repl_value("timer2", "frequency") == 2 * apb1  # APB1 divided: its timers run at twice APB1
    assert repl_value("timer1", "frequency") == 2 * apb2  # so do APB2's
    assert repl_value("usart2", "frequency") == repl_value("usart3", "frequency") == apb1
    assert repl_value("cpu", "PerformanceInMips") == sysclk // 1000000


def test_the_memory_the_platform_lacks_is_mapped():
    text = read("hil/renode/deployer.repl")
    assert re.search(r"^ccmram: Memory\.MappedMemory @ sysbus 0x10000000\n\s+size: 0x10000$", text, re.M)
    assert re.search(r"^backup_sram: Memory\.MappedMemory @ sysbus 0x40024000\n\s+size: 0x1000$", text, re.M)
    assert re.search(r"^adc1: Analog\.STM32_ADC @ sysbus 0x40012000$", text, re.M)


def test_loading_the_platform_downloads_nothing():
    """The platform's sysbus init (ApplySVD of an https URL) is replaced, not added to."""
    for path in ("hil/renode/deployer.repl", "hil/renode/deployer.resc"):
        code = [ln for ln in read(path).splitlines() if not ln.lstrip().startswith(("//", "#"))]
        assert [ln for ln in code if "ApplySVD" in ln or "http" in ln] == [], path
    assert re.search(r"^sysbus:\n\s+init:\n", read("hil/renode/deployer.repl"), re.M)


class Request:
    def __init__(self, kind, offset=0, value=0):
        self.IsInit, self.IsRead, self.IsWrite = kind == "init", kind == "read", kind == "write"
        self.Offset, self.Value = offset, value


class PwrModel:
    """The .repl's Python PWR script, run as Renode runs it: one scope, one request at a time."""

    CR, CSR = 0x0, 0x4

    def __init__(self):
        entry = read("hil/renode/deployer.repl").split("\npwr_backup: ", 1)[1]
        self.script = entry.split("script: '''\n", 1)[1].split("'''", 1)[0]
        self.scope = {}
        self.run(Request("init"))

    def run(self, request):
        self.scope["request"] = request
        exec(self.script, self.scope)
        return request.Value

    def read(self, offset):
        return self.run(Request("read", offset))

    def write(self, offset, value):
        self.run(Request("write", offset, value))


def test_the_backup_regulator_reads_ready_once_enabled():
    pwr = PwrModel()
    assert pwr.read(PwrModel.CSR) & (1 << 3) == 0  # BRR
    pwr.write(PwrModel.CSR, 1 << 9)  # BRE
    assert pwr.read(PwrModel.CSR) & (1 << 3) and pwr.read(PwrModel.CSR) & (1 << 9)
    pwr.write(PwrModel.CSR, 0)
    assert pwr.read(PwrModel.CSR) & (1 << 3) == 0


def test_the_pwr_model_answers_what_stm32_pwr_answers():
    pwr = PwrModel()
    assert pwr.read(PwrModel.CR) == 0xC000  # VOS = scale 1 at reset
    assert pwr.read(PwrModel.CSR) & (1 << 14)  # VOSRDY
    pwr.write(PwrModel.CR, 0xC000 | 1 << 8 | 1 << 16 | 1 << 17 | 1 << 3)  # DBP, ODEN, ODSWEN, CSBF
    assert pwr.read(PwrModel.CR) == 0xC000 | 1 << 8 | 1 << 16 | 1 << 17  # CSBF is an action, reads 0
    assert pwr.read(PwrModel.CSR) & (3 << 16) == 3 << 16  # ODRDY, ODSWRDY


def resc_default(name):
    return int(re.search(r"^\$%s \?= (\d+)$" % name, read("hil/renode/deployer.resc"), re.M)[1])


def test_the_calibration_words_and_the_adc_sample_read_the_lab_temperature():
    """MicroPython's F4 formula (adc.c:1008-1010), with deployer.resc's words and sample."""
    cal1, cal2, raw = resc_default("ts_cal1"), resc_default("ts_cal2"), resc_default("temperature_sample")
    celsius = (raw - cal1) / ((cal2 - cal1) / 80.0) + 30
    lab = re.search(r"^\$\{LAB_TEMPERATURE\}\s+(\S+) C$", read("hil/resources/deployer.resource"), re.M)[1]
    sim = int(re.search(r"^_TEMPERATURE = const\((\d+)\)", read("sim/board.py"), re.M)[1])
    assert "%.1f" % celsius == lab == "%.1f" % (sim / 10)
    macro = read("hil/renode/deployer.resc").split("macro reset", 1)[1]
    assert "sysbus WriteWord %s $ts_cal1" % targets.TS_CAL1 in macro
    assert "sysbus WriteWord %s $ts_cal2" % targets.TS_CAL2 in macro
    assert "FeedSample $temperature_sample %d -1" % targets.TEMPERATURE_CHANNEL in macro


def test_make_hil_renode_runs_renode_test_from_hil_out_with_every_suite_and_no_venv(tmp_path):
    """The portable renode-test appends -r $(pwd): run from the output folder, the results land there."""
    log = tmp_path / "renode-test.json"
    stand_in = tmp_path / "bin" / "renode-test"
    stand_in.parent.mkdir()
    stand_in.write_text("#!%s\nimport json, os, sys\njson.dump({'argv': sys.argv[1:], 'cwd': os.getcwd()}, "
                        "open(%r, 'w'))\n" % (sys.executable, str(log)))
    stand_in.chmod(0o755)
    venv = tmp_path / "no-venv"
    env = dict(os.environ, PATH="%s:%s" % (stand_in.parent, os.environ["PATH"]))
    out = str(tmp_path / "out")  # (make hil may be running beside this test, in hil/out)
    p = subprocess.run(["make", "--no-print-directory", "hil-renode", "FIRMWARE=build/fw.elf", "VENV=%s" % venv,
                        "HIL_OUT=" + out], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    call = json.loads(log.read_text())
    assert call["cwd"] == out
    argv = call["argv"] + ["-r", call["cwd"]]  # what the portable renode-test adds
    assert argv[len(argv) - 1 - argv[::-1].index("-r") + 1] == out
    suites = sorted(os.path.join(ROOT, "hil", "suites", f) for f in os.listdir(os.path.join(ROOT, "hil", "suites")))
    assert [a for a in argv if a.endswith(".robot")] == suites
    assert ["--variable", "TARGET:renode", "--variable", "FIRMWARE:" + os.path.join(ROOT, "build", "fw.elf")] == \
        call["argv"][:4]
    assert not venv.exists()


def _pins(path):
    return dict(re.findall(r"^([\w-]+)==(\S+)$", read(path), re.M))


def test_the_keyword_library_needs_only_what_requirements_renode_lists_with_the_projects_pins():
    renode_pins = _pins("hil/requirements-renode.txt")
    assert renode_pins.items() <= _pins("requirements.txt").items()
    code = ("import sys, importlib.metadata as md\n"
            "import robot.api.deco, robot.libraries.BuiltIn, robot.utils\n"  # renode-test's Robot
            "before = set(sys.modules)\n"
            "import hil.DeployerLibrary\n"
            "new = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
            "dists = md.packages_distributions()\n"
            "print(sorted({d for m in new for d in dists.get(m, [])}))\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    needed = set(json.loads(p.stdout.replace("'", '"')))
    own = tomllib.loads(read("pyproject.toml"))["project"]["name"]  # make venv installs the project too;
    assert needed - {own} == set(renode_pins)  # the library takes it from the tree (its sys.path)
