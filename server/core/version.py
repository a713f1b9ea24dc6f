"""The version both front doors report: ``--version`` on every command, and the MCP server's ``serverInfo``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

DISTRIBUTION = "gemini-interactions"


def package_version() -> str:
    """The installed package's version: pyproject.toml's, as built into its metadata (an editable install too)."""
    from importlib.metadata import version  # here, not at the top: importing it costs a cold start ~40 ms

    return version(DISTRIBUTION)


class VersionAction(argparse.Action):
    """``--version``: prints ``<prog> <version>`` and exits; the version is looked up only then."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()
