"""The view that ships in the Python package is exactly what ``apps/`` builds (``npm run build --prefix apps``):
CI rebuilds it from the sources and the lock file and fails on any difference."""

from __future__ import annotations

import pytest

from tests.support.browser import SHIPPED_VIEW, Assets

pytestmark = pytest.mark.browser


def test_the_shipped_view_is_a_fresh_build_of_apps(assets: Assets) -> None:
    fresh, shipped = assets.view.read_bytes(), SHIPPED_VIEW.read_bytes()
    assert fresh == shipped, (
        "server/mcp/views/app.html is not what apps/ builds from its sources: run "
        "`npm ci --prefix apps && npm run build --prefix apps` and commit the result"
    )
