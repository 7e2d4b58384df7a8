"""Ground segment: link client, CLI (``python -m ground``), console, archive, ICD."""
