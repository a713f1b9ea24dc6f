"""Release checks and the release-time registry entry.

    uv run python scripts/release.py check [--release]
    uv run python scripts/release.py configure --namespace io.github.<you> --repository https://github.com/<you>/gemini-interactions
    uv run python scripts/release.py server-json dist/gemini-interactions-<version>.mcpb [--url URL] [--out dist/server.json]

``check`` validates ``server.json`` against the registry's published schema (vendored in ``schemas/``) plus the
rules the registry enforces at publish time that the schema does not say, and checks that ``manifest.json``,
``pyproject.toml`` and the README agree with it. ``--release`` also refuses what is not filled in yet.

The registry namespace is one setting: the part of ``server.json``'s ``name`` before the slash. It is filled at
the first release with ``configure``, which also rewrites the copies other files must carry (the README's
``mcp-name`` marker, which the registry looks for on PyPI, and the repository links).

``server-json`` writes the entry that is published: ``server.json`` plus the Claude Desktop bundle, whose download
URL and SHA-256 exist only once the bundle is built and its release is known.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
SERVER_JSON = "server.json"
MANIFEST = "manifest.json"
README = "README.md"
PYPROJECT = "pyproject.toml"
REGISTRY_SCHEMA = "schemas/mcp-registry-server-2025-12-11.schema.json"
# Not filled in yet: the GitHub owner in the namespace and the links (see `configure`).
UNFILLED = "OWNER"

# The registry's own rules, from modelcontextprotocol/registry internal/validators (validators.go, mcpname.go,
# registries/mcpb.go, registries/pypi.go).
_VERSION_RANGE = re.compile(r"[\^~<>=*\s]|(^|\.)[xX](\.|$)|^latest$")
_SERVER_NAME_CHARS = re.compile(r"[A-Za-z0-9._/-]")
_GITHUB_RELEASE_ASSET = re.compile(
    r"^/([a-zA-Z0-9]([a-zA-Z0-9\-]{0,37}[a-zA-Z0-9])?)/([a-zA-Z0-9._\-]+)/releases/download/([^/]+)/([^/]+)$"
)
_GITLAB_RELEASE_ASSET = re.compile(
    r"^/([a-zA-Z0-9._\-]+(?:/[a-zA-Z0-9._\-]+)*)/-/releases/([^/]+)/downloads/([^/]+)$"
)


class ReleaseError(Exception):
    """What is wrong, as a list of problems a person can fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_json(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / name).read_text(encoding="utf-8"))


def project(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / PYPROJECT).read_text(encoding="utf-8"))["project"]


def schema_problems(root: Path, entry: dict[str, Any]) -> list[str]:
    """``entry`` against the vendored registry schema (formats checked too: the registry parses every URL)."""
    from jsonschema import Draft7Validator, FormatChecker

    schema = load_json(root, REGISTRY_SCHEMA)
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    return [
        f"server.json {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(entry), key=lambda e: list(map(str, e.absolute_path)))
    ]


def has_mcp_name_token(text: str, server_name: str) -> bool:
    """The registry's ownership check on a PyPI description: ``mcp-name: <name>`` followed by a boundary (the end,
    a character that cannot continue a server name, or an HTML comment close), so a longer name never counts."""
    token = f"mcp-name: {server_name}"
    start = 0
    while (index := text.find(token, start)) >= 0:
        rest = text[index + len(token) :]
        if not rest or not _SERVER_NAME_CHARS.match(rest[0]) or rest.startswith(("-->", "--!>")):
            return True
        start = index + 1
    return False


def bundle_url_problems(url: str) -> list[str]:
    """The registry accepts an MCPB download only from a GitHub or GitLab release asset over HTTPS."""
    parsed = urlparse(url)
    problems = []
    if parsed.scheme != "https":
        problems.append(f"the bundle URL must use https: {url}")
    if "mcp" not in url.lower():
        problems.append(f"the registry requires 'mcp' in a bundle URL: {url}")
    host = (parsed.hostname or "").lower()
    if host in ("github.com", "www.github.com"):
        if not _GITHUB_RELEASE_ASSET.match(parsed.path):
            problems.append(f"a GitHub bundle URL must be /owner/repo/releases/download/tag/file: {url}")
    elif host in ("gitlab.com", "www.gitlab.com"):
        if not _GITLAB_RELEASE_ASSET.match(parsed.path):
            problems.append(f"a GitLab bundle URL must be /owner/repo/-/releases/tag/downloads/file: {url}")
    else:
        problems.append(
            f"the registry accepts bundles only from GitHub or GitLab releases, not {host or url}"
        )
    return problems


def entry_problems(entry: dict[str, Any], version: str, package_name: str) -> list[str]:
    """Registry rules beyond the schema, and agreement with pyproject.toml."""
    problems = []
    if _VERSION_RANGE.search(entry.get("version", "")):
        problems.append(f"server.json version {entry.get('version')!r} must be one specific version")
    if entry.get("version") != version:
        problems.append(f"server.json version {entry.get('version')!r} is not pyproject's {version!r}")
    pypi = [p for p in entry.get("packages", []) if p.get("registryType") == "pypi"]
    if len(pypi) != 1:
        problems.append("server.json must list the PyPI package exactly once")
    for package in entry.get("packages", []):
        if _VERSION_RANGE.search(package.get("version", "")):
            problems.append(f"package version {package.get('version')!r} must be one specific version")
    for package in pypi:
        if package.get("identifier") != package_name or package.get("version") != version:
            problems.append(
                f"server.json's PyPI package is {package.get('identifier')}=={package.get('version')}, "
                f"pyproject says {package_name}=={version}"
            )
        if "fileSha256" in package:
            problems.append("a PyPI package must not carry fileSha256 (the registry refuses it)")
        if package.get("registryBaseUrl", "https://pypi.org") != "https://pypi.org":
            problems.append("the PyPI package's registryBaseUrl must be https://pypi.org")
    for package in entry.get("packages", []):
        if package.get("registryType") == "mcpb":
            problems += bundle_url_problems(package.get("identifier", ""))
            if "registryBaseUrl" in package:
                problems.append("an MCPB package must not carry registryBaseUrl (the registry refuses it)")
    return problems


def agreement_problems(root: Path, entry: dict[str, Any]) -> list[str]:
    """The copies other files carry of what server.json says."""
    meta = project(root)
    manifest = load_json(root, MANIFEST)
    readme = (root / README).read_text(encoding="utf-8")
    repository = entry.get("repository", {}).get("url", "")
    problems = []
    if not has_mcp_name_token(readme, entry["name"]):
        problems.append(
            f"README.md must carry the registry's ownership marker for {entry['name']!r}: the line "
            f"'<!-- mcp-name: {entry['name']} -->' (run `configure` after changing the name)"
        )
    if manifest.get("version") != meta["version"]:
        problems.append(
            f"manifest.json version {manifest.get('version')!r} is not pyproject's {meta['version']!r}"
        )
    if manifest.get("repository", {}).get("url") != repository:
        problems.append(f"manifest.json repository.url is not server.json's {repository!r}")
    for label, url in meta.get("urls", {}).items():
        if not url.startswith(repository):
            problems.append(f"pyproject [project.urls] {label} = {url!r} is not under {repository!r}")
    pypi: dict[str, Any] = next((p for p in entry.get("packages", []) if p.get("registryType") == "pypi"), {})
    entry_env = {v["name"] for v in pypi.get("environmentVariables", [])}
    manifest_env = set(manifest.get("server", {}).get("mcp_config", {}).get("env", {}))
    if entry_env != manifest_env:
        problems.append(
            f"server.json's environment variables {sorted(entry_env)} differ from manifest.json's {sorted(manifest_env)}"
        )
    return problems


def unfilled_problems(root: Path) -> list[str]:
    return [
        f"{name} still has the unfilled '{UNFILLED}': run `scripts/release.py configure` first"
        for name in (SERVER_JSON, MANIFEST, README, PYPROJECT)
        if f"io.github.{UNFILLED}/" in (text := (root / name).read_text(encoding="utf-8"))
        or f"github.com/{UNFILLED}/" in text
    ]


def check(root: Path = REPO, *, release: bool = False) -> None:
    entry = load_json(root, SERVER_JSON)
    meta = project(root)
    problems = schema_problems(root, entry)
    problems += entry_problems(entry, meta["version"], meta["name"])
    if not problems:
        problems += agreement_problems(root, entry)
    if release:
        problems += unfilled_problems(root)
    if problems:
        raise ReleaseError(problems)


def configure(root: Path, namespace: str, repository: str) -> None:
    """Set the registry namespace and the repository, and rewrite every copy of them."""
    entry = load_json(root, SERVER_JSON)
    old_name, old_repo = entry["name"], entry["repository"]["url"]
    new_name = f"{namespace}/{old_name.split('/', 1)[1]}"
    repository = repository.rstrip("/")
    if not re.fullmatch(r"[a-zA-Z0-9.-]+", namespace) or namespace.startswith(("-", ".")):
        raise ReleaseError(
            [f"{namespace!r} is not a registry namespace (e.g. io.github.alice or com.example)"]
        )
    if urlparse(repository).scheme != "https":
        raise ReleaseError([f"{repository!r} is not an https repository URL"])
    for name in (SERVER_JSON, MANIFEST, README, PYPROJECT):
        path = root / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(old_name, new_name).replace(old_repo, repository), encoding="utf-8")
    check(root)


def bundle_manifest(bundle: Path) -> dict[str, Any]:
    with zipfile.ZipFile(bundle) as archive:
        return json.loads(archive.read("manifest.json"))


def release_entry(root: Path, bundle: Path, url: str | None = None) -> dict[str, Any]:
    """server.json with the bundle added (its download URL and SHA-256), checked as the registry would."""
    check(root, release=True)
    entry = load_json(root, SERVER_JSON)
    version = entry["version"]
    inside = bundle_manifest(bundle)
    if inside.get("version") != version:
        raise ReleaseError(
            [f"{bundle.name} holds version {inside.get('version')!r}, server.json says {version!r}"]
        )
    url = url or f"{entry['repository']['url']}/releases/download/v{version}/{bundle.name}"
    if Path(urlparse(url).path).name != bundle.name:
        raise ReleaseError([f"the URL {url} does not end with the bundle's file name {bundle.name}"])
    entry["packages"] = [p for p in entry["packages"] if p.get("registryType") != "mcpb"] + [
        {
            "registryType": "mcpb",
            "identifier": url,
            "version": version,
            "fileSha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
            "transport": {"type": "stdio"},
        }
    ]
    problems = schema_problems(root, entry) + entry_problems(entry, version, project(root)["name"])
    if problems:
        raise ReleaseError(problems)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=REPO, help="the project folder (default: this repository)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser(
        "check", help="validate server.json and its agreement with the other files"
    )
    check_cmd.add_argument("--release", action="store_true", help="also refuse what is not filled in yet")
    configure_cmd = commands.add_parser("configure", help="set the registry namespace and the repository")
    configure_cmd.add_argument(
        "--namespace", required=True, help="io.github.<user or org>, or a domain you own"
    )
    configure_cmd.add_argument("--repository", required=True, help="https://github.com/<owner>/<repo>")
    entry_cmd = commands.add_parser("server-json", help="write the published entry, the bundle included")
    entry_cmd.add_argument("bundle", type=Path, help="the .mcpb built by `mcpb pack`")
    entry_cmd.add_argument("--url", help="where the bundle is downloaded (default: the GitHub release asset)")
    entry_cmd.add_argument("--out", type=Path, help="default: dist/server.json in the project folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            check(args.root, release=args.release)
            print("server.json, manifest.json, pyproject.toml and README.md agree; server.json is valid")
        elif args.command == "configure":
            configure(args.root, args.namespace, args.repository)
            print(f"namespace {args.namespace} and repository {args.repository} written; review and commit")
        else:
            entry = release_entry(args.root, args.bundle, args.url)
            out = args.out or args.root / "dist" / "server.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
            print(
                f"{out}: {entry['name']} {entry['version']} with the bundle {entry['packages'][-1]['identifier']}"
            )
    except ReleaseError as exc:
        print(f"{parser.prog} {args.command}: not ready:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
