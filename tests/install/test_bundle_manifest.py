"""The Claude Desktop bundle's manifest.json says what the server really offers and starts it the way Claude
Desktop does (server type ``uv``: its own uv runs ``mcp_config.args``). The official CLI validates and packs it
in test_bundle.py; here, without npm, its content is checked against the running server."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from server.core import Settings

from .kit import REPO, TEST_KEY, as_claude_desktop, isolated_env, manifest, start_and_list

pytestmark = pytest.mark.anyio


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_manifest_is_a_uv_bundle_of_this_version() -> None:
    data = manifest()
    meta = pyproject()
    assert (data["manifest_version"], data["server"]["type"]) == ("0.4", "uv")
    assert (data["name"], data["version"]) == (meta["name"], meta["version"])
    assert data["license"] == meta["license"]
    args = data["server"]["mcp_config"]["args"]
    # uv runs the locked dependencies without the dev group, from the unpacked folder, and a console script.
    assert args[:3] == ["run", "--directory", "${__dirname}"]
    assert "--frozen" in args and "--no-dev" in args
    assert args[-1] in meta["scripts"]
    assert (REPO / data["server"]["entry_point"]).is_file()


def test_the_key_is_a_required_secret_and_the_rest_is_optional_with_a_default() -> None:
    fields = manifest()["user_config"]
    env = manifest()["server"]["mcp_config"]["env"]
    assert fields["gemini_api_key"] | {"sensitive": True, "required": True} == fields["gemini_api_key"]
    assert env["GEMINI_API_KEY"] == "${user_config.gemini_api_key}"
    for key, spec in fields.items():
        assert f"${{user_config.{key}}}" in env.values(), f"user_config.{key} reaches no environment variable"
        if not spec.get("required"):
            # Claude Desktop passes an unfilled optional field on as the literal "${user_config.…}".
            assert "default" in spec, f"optional user_config.{key} needs a default"
    settings = {f"GEMINI_INTERACTIONS_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= settings | {"GEMINI_API_KEY"}, "every variable the bundle sets is a setting"


async def test_manifest_lists_what_the_server_offers_and_its_defaults_start_it(tmp_path: Path) -> None:
    """The server started with the manifest's environment as Claude Desktop fills it (the key given, the optional
    fields left at their empty defaults) offers exactly the manifest's tools and prompts."""
    data = manifest()
    _, _, env = as_claude_desktop(data, dirname=REPO, values={"gemini_api_key": TEST_KEY})
    assert env["GEMINI_INTERACTIONS_DATA_DIR"] == "" and "${" not in "".join(env.values())
    offered = await start_and_list(
        sys.executable,
        ["-m", "server"],
        env=isolated_env(tmp_path) | env,
        cwd=tmp_path,
        errlog=tmp_path / "server.log",
        # Read each prompt with its arguments as the manifest's placeholders: the text must then be the manifest's.
        prompt_arguments={
            p["name"]: {a: f"${{arguments.{a}}}" for a in p["arguments"]} for p in data["prompts"]
        },
    )
    assert (offered.server_name, offered.server_version) == (data["name"], data["version"])
    assert offered.tools == {tool["name"] for tool in data["tools"]}
    assert offered.prompts == {prompt["name"]: prompt["arguments"] for prompt in data["prompts"]}
    for prompt in data["prompts"]:
        assert offered.prompt_texts[prompt["name"]] == prompt["text"]
    # An empty GEMINI_INTERACTIONS_DATA_DIR is the default data dir (here under the isolated XDG_DATA_HOME).
    assert (tmp_path / "data" / "gemini-interactions" / "gemini-interactions.sqlite3").exists()
