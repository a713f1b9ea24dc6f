"""``--emulator`` for both front doors: the emulator in this process, and settings that point at it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from server.core import Settings, load_settings

from .config import EmulatorConfig
from .serving import run_emulator_in_thread

EMULATOR_API_KEY = "emulator-key-not-a-secret"

NOTICE = """\
==================================================================================
EMULATOR MODE: answers are fake, no Gemini calls are made and no API key is used.
The local Interactions API emulator runs inside this process at {url}
Jobs, images and reports go to {data_dir}
Drop --emulator and set GEMINI_API_KEY to use the real Gemini API.
=================================================================================="""


@contextlib.contextmanager
def embedded_emulator(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """Run the emulator on a free loopback port; yield settings that use it and the notice to print.

    Without GEMINI_INTERACTIONS_DATA_DIR the data goes to an ``emulator`` subfolder, so fake jobs never mix
    with real ones. Raises OSError/RuntimeError when the emulator cannot start.
    """
    handle = run_emulator_in_thread(EmulatorConfig(), host="127.0.0.1", port=0)
    try:
        overrides: dict[str, Any] = {"base_url": handle.url, "api_key": EMULATOR_API_KEY}
        if "data_dir" not in settings.model_fields_set:
            overrides["data_dir"] = settings.data_dir / "emulator"
        emulated = load_settings(**overrides)
        yield emulated, NOTICE.format(url=handle.url, data_dir=emulated.data_dir)
    finally:
        handle.stop()
