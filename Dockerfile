# syntax=docker/dockerfile:1
# One image for both front doors, each serving HTTP on $PORT (8000): `docker run IMAGE mcp` or `docker run IMAGE slack`
# (see docker/entrypoint.sh and the README's "Running in production"). Data (SQLite, reports, images) lives in /data.

FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
# Compile bytecode at build time; copy (not link) from uv's cache mount; use the image's Python only.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first (a layer that survives code changes), then the project itself, never editable.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project
COPY server ./server
COPY slack_bot ./slack_bot
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
# The server runs as this user; /data (its home, and the volume) is the only place it writes to.
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app --home-dir /data --create-home app
# Code stays root-owned and read-only for the server: a compromised process cannot rewrite what it runs.
COPY --from=build /app/.venv /app/.venv
COPY docker/entrypoint.sh docker/healthcheck.py /app/
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    GEMINI_INTERACTIONS_DATA_DIR=/data
VOLUME ["/data"]
USER 10001:10001
WORKDIR /data
EXPOSE 8000
# Readiness (/readyz): healthy once the job store is open (and, for the bot, Slack reachable); see healthcheck.py.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/healthcheck.py", "/readyz"]
ENTRYPOINT ["/app/entrypoint.sh"]
CMD ["mcp"]
