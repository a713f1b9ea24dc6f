"""One emulator for a whole test session, cleaned between tests (``tests/core`` and ``tests/emulator``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from server.emulator import Emulator, EmulatorConfig, EmulatorHandle, run_emulator_in_thread


def session_emulator(config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """The body of a session fixture: the emulator on a free loopback port, stopped at the end."""
    with run_emulator_in_thread(dataclasses.replace(config), host="127.0.0.1", port=0) as handle:
        yield handle


def clean_emulator(handle: EmulatorHandle, config: EmulatorConfig) -> Iterator[Emulator]:
    """The body of a per-test fixture: no interactions, stats or faults; ``config`` restored afterwards."""
    emulator = handle.emulator
    emulator.reset()
    yield emulator
    emulator.reset()
    for field in dataclasses.fields(config):
        setattr(emulator.config, field.name, getattr(config, field.name))
