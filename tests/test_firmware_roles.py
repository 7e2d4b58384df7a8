"""One owner per rule (docs/ARCHITECTURE.md): firmware/verification.py alone sends a TC's PUS 1
reports and records or judges its request id, so the exactly-once rule is in one place; the
parts that act get their collaborators by name, not the whole application."""

import ast
import inspect

from ground import build

OWNER = "verification.py"
# Calls that report on or record a request id: Telemetry.verify, State.record/end/admit/outcome/stale
RECORDING = {"verify", "record", "end", "admit", "outcome", "stale"}


def _calls(path):
    """(line, method) of every call of a RECORDING method on something other than ``self``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RECORDING):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
            out.append((node.lineno, node.func.attr))
    return out


def test_only_verification_reports_on_or_records_a_request_id():
    found = {p.name: _calls(p) for p in build.package_sources() if p.name != OWNER}
    assert {k: v for k, v in found.items() if v} == {}
    assert {m for _line, m in _calls(build.SOURCE / OWNER)} == RECORDING


def test_services_housekeeping_and_the_sequencer_are_given_their_collaborators_not_the_app():
    from firmware.hk import Housekeeping
    from firmware.sequencer import Sequencer
    from firmware.services import Services

    for part in (Services, Housekeeping, Sequencer):
        names = list(inspect.signature(part.__init__).parameters)
        assert "app" not in names and "verification" in names, (part.__name__, names)
