"""Rules of the codebase that a reviewer should not have to check by eye."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.env import REPO

MAX_MODULE_LINES = 400
# The emulator and the fakes mirror services we do not control; they may run longer.
EXEMPT = ("server/emulator/", "tests/fakes/")
CODE = ("server", "slack_bot", "tests", "bench")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore")
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[a-z0-9, -]+\]\s+#\s*\S")


def _modules() -> list[Path]:
    return sorted(path for folder in CODE for path in (REPO / folder).rglob("*.py"))


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for path in _modules()
        if not str(path.relative_to(REPO)).startswith(EXEMPT)
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_type_ignore_names_its_error_and_says_why() -> None:
    unexplained = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if TYPE_IGNORE.search(line) and not EXPLAINED.search(line)
    ]
    assert unexplained == []
