"""The wheel and sdist `uv build` makes: complete metadata, every file the packages hold (package data too), nothing
else top-level; installed into a fresh virtualenv with no repository around it, its commands start and the MCP
server answers."""

from __future__ import annotations

import email.parser
import re
import shutil
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from .conftest import Dists
from .kit import REPO, isolated_env, manifest, run, shipped_files, start_and_list, uv

pytestmark = [pytest.mark.packaging, pytest.mark.anyio]

PACKAGES = ("server", "slack_bot")
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DIST_INFO = f"gemini_interactions-{PROJECT['version']}.dist-info"


def wheel_metadata(wheel: Path) -> email.message.Message:
    return email.parser.Parser().parsestr(zipfile.ZipFile(wheel).read(f"{DIST_INFO}/METADATA").decode())


def test_wheel_metadata_is_complete(dists: Dists) -> None:
    meta = wheel_metadata(dists.wheel)
    assert meta["Name"] == PROJECT["name"] and meta["Version"] == PROJECT["version"]
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert f"{DIST_INFO}/licenses/LICENSE" in zipfile.ZipFile(dists.wheel).namelist()
    labels = {url.split(", ", 1)[0] for url in meta.get_all("Project-URL") or []}
    assert {"Homepage", "Source", "Issues", "Documentation"} <= labels
    classifiers = meta.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers and len(classifiers) >= 5
    assert len(meta["Keywords"].split(",")) >= 5 and meta["Summary"] and meta["Requires-Python"]
    # PyPI's page is the README, which carries the registry's ownership marker (scripts/release.py checks it).
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload() == (REPO / "README.md").read_text(encoding="utf-8")


def test_wheel_holds_the_two_packages_with_all_their_files_and_nothing_else(dists: Dists) -> None:
    names = zipfile.ZipFile(dists.wheel).namelist()
    assert {name.split("/")[0] for name in names} == {*PACKAGES, DIST_INFO}
    for package in PACKAGES:
        missing = set(shipped_files(package)) - set(names)
        assert not missing, f"not in the wheel: {sorted(missing)}"
    entry_points = zipfile.ZipFile(dists.wheel).read(f"{DIST_INFO}/entry_points.txt").decode()
    for script, target in PROJECT["scripts"].items():
        assert f"{script} = {target}" in entry_points


def test_sdist_holds_what_the_wheel_is_built_from(dists: Dists) -> None:
    top = f"gemini_interactions-{PROJECT['version']}"
    names = {member.name.removeprefix(f"{top}/") for member in tarfile.open(dists.sdist).getmembers()}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} <= names
    for package in PACKAGES:
        missing = set(shipped_files(package)) - names
        assert not missing, f"not in the sdist: {sorted(missing)}"
    assert not {name for name in names if name.startswith(("tests/", "bench/", ".ci/"))}


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv far from the repository, with the wheel installed (its dependencies pinned to uv.lock,
    so an upstream release cannot break this check)."""
    where = tmp_path_factory.mktemp("clean-install")
    constraints = where / "constraints.txt"
    run(
        [uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q", "-o", constraints],
        cwd=REPO,
    )
    env = isolated_env(where / "home")
    run([uv(), "venv", "--python", "3.11", where / "venv"], cwd=where, env=env)
    python = where / "venv" / "bin" / "python"
    run([uv(), "pip", "install", "--python", python, "-c", constraints, dists.wheel], cwd=where, env=env)
    return where / "venv"


def test_the_install_adds_only_its_two_packages_and_its_commands(venv: Path) -> None:
    (site,) = venv.glob("lib/python3*/site-packages")
    record = (site / DIST_INFO / "RECORD").read_text().splitlines()
    installed = {line.split(",")[0] for line in record}
    assert {path.split("/")[0] for path in installed if not path.startswith("..")} == {*PACKAGES, DIST_INFO}
    scripts = {Path(path).name for path in installed if path.startswith("..")}
    assert scripts == set(PROJECT["scripts"])


async def test_installed_commands_start_outside_the_repository(venv: Path, tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "home")
    where = run(
        [venv / "bin" / "python", "-c", "import server; print(server.__file__)"], cwd=tmp_path, env=env
    )
    assert where.stdout.startswith(str(venv))
    for script in PROJECT["scripts"]:
        run([venv / "bin" / script, "--help"], cwd=tmp_path, env=env, timeout=60)
        printed = run([venv / "bin" / script, "--version"], cwd=tmp_path, env=env, timeout=60).stdout
        assert printed.split()[-1] == PROJECT["version"]

    offered = await start_and_list(
        str(venv / "bin" / "gemini-interactions-mcp"),
        ["--emulator"],
        env=env,
        cwd=tmp_path,
        errlog=tmp_path / "server.log",
        ask=True,
    )
    assert offered.tools == {tool["name"] for tool in manifest()["tools"]}
    assert offered.server_version == PROJECT["version"]
    assert offered.answer


def test_the_image_build_stage_copies_what_building_the_project_needs(dists: Dists, tmp_path: Path) -> None:
    """No Docker daemon here: from the files the Dockerfile's build stage copies (before its `uv sync` builds the
    project), the build backend makes the same wheel as from the repository (readme, license files, packages)."""
    lines = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text()).splitlines()
    first, second = [i for i, line in enumerate(lines) if line.startswith("FROM")][:2]
    build_stage = lines[first:second]
    context = tmp_path / "context"
    for line in build_stage:
        words = line.split()
        if words[:1] != ["COPY"] or any(word.startswith("--from") for word in words):
            continue
        *sources, target = words[1:]
        for source in sources:
            destination = context / target.removeprefix("./") / (source if target.endswith("/") else "")
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, context / target.removeprefix("./"), dirs_exist_ok=True)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, destination)
    run([uv(), "build", "--wheel", "--out-dir", tmp_path / "out", context], cwd=tmp_path, timeout=300)
    (built,) = (tmp_path / "out").glob("*.whl")
    assert sorted(zipfile.ZipFile(built).namelist()) == sorted(zipfile.ZipFile(dists.wheel).namelist())
    assert wheel_metadata(built).as_string() == wheel_metadata(dists.wheel).as_string()
