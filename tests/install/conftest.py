"""Built once per session: the wheel and sdist, as ``uv build`` makes them (the wheel from the sdist)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .kit import REPO, run, uv


@dataclass(frozen=True)
class Dists:
    folder: Path
    wheel: Path
    sdist: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    folder = tmp_path_factory.mktemp("dist")
    run([uv(), "build", "--out-dir", folder], cwd=REPO, timeout=300)
    (wheel,) = folder.glob("*.whl")
    (sdist,) = folder.glob("*.tar.gz")
    return Dists(folder, wheel, sdist)
