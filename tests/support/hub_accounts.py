"""Whether the hub tests make real local accounts (``deploy/hub/course_hub.py``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HUB = Path(__file__).resolve().parents[2] / "deploy" / "hub"
if str(HUB) not in sys.path:
    sys.path.insert(0, str(HUB))
import course_hub as ch  # noqa: E402


def use_accounts() -> bool:
    """Real accounts as root; NNCOURSE_HUB_ONE_ACCOUNT=1 tries the one-account mode instead."""
    if os.environ.get("NNCOURSE_HUB_ONE_ACCOUNT") == "1":
        return False
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        return False
    return not ch.hidden_ancestors(ch.needed_paths()) or shutil.which("bwrap") is not None
