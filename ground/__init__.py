"""Ground segment: link client, server, CLI (``python -m ground``), console, archive, ICD."""

import functools
import subprocess
from importlib import metadata
from pathlib import Path


@functools.cache
def software_version():
    """This ground software: ``git describe`` of the checkout, else the installed package's version."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return "git " + out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return "payload-deployer " + metadata.version("payload-deployer")
    except metadata.PackageNotFoundError:
        return "unknown"
