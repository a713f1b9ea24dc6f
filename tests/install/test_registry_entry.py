"""The MCP registry entry (server.json): valid against the registry's published schema, agreeing with the package,
the bundle manifest and the README marker the registry looks for on PyPI; and the release script that adds the
bundle's download URL and SHA-256 at release (scripts/release.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .kit import REPO

RELEASE = REPO / "scripts" / "release.py"
SCHEMA = REPO / "schemas" / "mcp-registry-server-2025-12-11.schema.json"
SCHEMA_ID = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
ROOT_FILES = ("server.json", "manifest.json", "README.md", "pyproject.toml", "schemas")


def release(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RELEASE), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def entry(root: Path = REPO) -> dict[str, Any]:
    return json.loads((root / "server.json").read_text(encoding="utf-8"))


def unfill(root: Path) -> None:
    """The state before the first release, whatever the repository's is now."""
    result = release(
        root,
        "configure",
        "--namespace",
        "io.github.OWNER",
        "--repository",
        "https://github.com/OWNER/gemini-interactions",
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files the release script reads, copied so a test may change them."""
    for name in ROOT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def fake_bundle(path: Path, version: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"name": "gemini-interactions", "version": version}))
    return path


def test_the_vendored_schema_is_the_published_2025_12_11_file() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_text())["$id"] == SCHEMA_ID
    assert entry()["$schema"] == SCHEMA_ID


def test_server_json_is_valid_and_agrees_with_the_package_the_bundle_and_the_readme() -> None:
    result = release(REPO, "check")
    assert result.returncode == 0, result.stderr
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (pypi,) = entry()["packages"]
    assert (pypi["registryType"], pypi["identifier"], pypi["version"]) == (
        "pypi",
        meta["name"],
        meta["version"],
    )
    # The registry's clients run `uvx <identifier>`: the package must have a command of that name.
    assert meta["scripts"][meta["name"]] == meta["scripts"]["gemini-interactions-mcp"]


def test_the_bundle_is_not_in_the_committed_entry() -> None:
    """Its download URL and SHA-256 exist only at release (scripts/release.py server-json adds them)."""
    assert [p["registryType"] for p in entry()["packages"]] == ["pypi"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(description="x" * 101), "description"),
        (lambda d: d.update(name="no-slash"), "name"),
        (lambda d: d.update(websiteUrl="not a url"), "websiteUrl"),
        (lambda d: d["packages"][0].update(fileSha256="0" * 64), "fileSha256"),
        (lambda d: d["packages"][0].update(version="^0.1.0"), "version"),
        (lambda d: d.update(version="latest"), "version"),
        (lambda d: d["packages"][0]["environmentVariables"].pop(), "environment variables"),
    ],
)
def test_check_refuses_what_the_registry_would(project: Path, change: Any, complaint: str) -> None:
    edit_json(project / "server.json", change)
    result = release(project, "check")
    assert result.returncode == 1
    assert complaint in result.stderr


def test_the_readme_marker_must_name_the_server_exactly(project: Path) -> None:
    """The registry accepts `mcp-name: <name>` only when no longer name continues it (its mcpname.go)."""
    readme = project / "README.md"
    name = entry()["name"]
    readme.write_text(readme.read_text().replace(f"mcp-name: {name} -->", f"mcp-name: {name}-pro -->"))
    result = release(project, "check")
    assert result.returncode == 1 and "mcp-name" in result.stderr
    readme.write_text(readme.read_text().replace(f"mcp-name: {name}-pro -->", f"mcp-name: {name}-->"))
    assert release(project, "check").returncode == 0


def test_release_check_refuses_the_unfilled_namespace_until_configured(project: Path) -> None:
    unfill(project)
    refused = release(project, "check", "--release")
    assert refused.returncode == 1 and "configure" in refused.stderr

    configured = release(
        project,
        "configure",
        "--namespace",
        "io.github.alice",
        "--repository",
        "https://github.com/alice/gemini-interactions",
    )
    assert configured.returncode == 0, configured.stderr
    assert entry(project)["name"] == "io.github.alice/gemini-interactions"
    assert "<!-- mcp-name: io.github.alice/gemini-interactions -->" in (project / "README.md").read_text()
    assert "https://github.com/alice/gemini-interactions/issues" in (project / "pyproject.toml").read_text()
    assert json.loads((project / "manifest.json").read_text())["repository"]["url"].endswith(
        "alice/gemini-interactions"
    )
    ok = release(project, "check", "--release")
    assert ok.returncode == 0, ok.stderr


def test_server_json_at_release_adds_the_bundle_url_and_sha256(project: Path, tmp_path: Path) -> None:
    release(
        project,
        "configure",
        "--namespace",
        "io.github.alice",
        "--repository",
        "https://github.com/alice/gemini-interactions",
    )
    version = entry(project)["version"]
    bundle = fake_bundle(tmp_path / f"gemini-interactions-{version}.mcpb", version)
    out = tmp_path / "published.json"
    result = release(project, "server-json", str(bundle), "--out", str(out))
    assert result.returncode == 0, result.stderr

    published = json.loads(out.read_text())
    (mcpb,) = [p for p in published["packages"] if p["registryType"] == "mcpb"]
    assert mcpb["identifier"] == (
        f"https://github.com/alice/gemini-interactions/releases/download/v{version}/gemini-interactions-{version}.mcpb"
    )
    assert mcpb["fileSha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert published["packages"][0] == entry(project)["packages"][0]
    assert entry(project)["packages"] == entry(project)["packages"][:1], "server.json itself is left alone"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://github.com/alice/gemini-interactions/releases/download/v0/{file}", "https"),
        ("https://example.com/downloads/{file}", "GitHub or GitLab"),
        ("https://github.com/alice/gemini-interactions/raw/main/{file}", "releases/download"),
        ("https://github.com/alice/gemini-interactions/releases/download/v0/other.mcpb", "file name"),
    ],
)
def test_server_json_at_release_refuses_a_url_the_registry_would(
    project: Path, tmp_path: Path, url: str, complaint: str
) -> None:
    release(
        project,
        "configure",
        "--namespace",
        "io.github.alice",
        "--repository",
        "https://github.com/alice/gemini-interactions",
    )
    version = entry(project)["version"]
    bundle = fake_bundle(tmp_path / f"gemini-interactions-{version}.mcpb", version)
    result = release(
        project,
        "server-json",
        str(bundle),
        "--url",
        url.format(file=bundle.name),
        "--out",
        str(tmp_path / "o.json"),
    )
    assert result.returncode == 1
    assert complaint in result.stderr


def test_server_json_at_release_refuses_a_bundle_of_another_version(project: Path, tmp_path: Path) -> None:
    release(
        project,
        "configure",
        "--namespace",
        "io.github.alice",
        "--repository",
        "https://github.com/alice/gemini-interactions",
    )
    bundle = fake_bundle(tmp_path / "gemini-interactions-9.9.9.mcpb", "9.9.9")
    result = release(project, "server-json", str(bundle), "--out", str(tmp_path / "o.json"))
    assert result.returncode == 1 and "9.9.9" in result.stderr


def test_server_json_at_release_refuses_the_unfilled_namespace(project: Path, tmp_path: Path) -> None:
    unfill(project)
    version = entry(project)["version"]
    bundle = fake_bundle(tmp_path / f"gemini-interactions-{version}.mcpb", version)
    result = release(project, "server-json", str(bundle), "--out", str(tmp_path / "o.json"))
    assert result.returncode == 1 and "OWNER" in result.stderr
    assert not (tmp_path / "o.json").exists()
