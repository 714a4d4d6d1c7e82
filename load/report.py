"""How every benchmark reports: its result as JSON on stdout and, when asked, in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def report(result: dict[str, Any], out: Path | None) -> None:
    """Print `result` as indented JSON and write it to `out` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")
