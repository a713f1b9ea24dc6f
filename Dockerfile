# One image for both front doors, each serving HTTP on $PORT (8000): `docker run IMAGE mcp` or `docker run IMAGE slack`.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY server ./server
COPY slack_bot ./slack_bot
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app docker/entrypoint.sh /app/entrypoint.sh
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    GEMINI_INTERACTIONS_DATA_DIR=/data
VOLUME ["/data"]
USER 10001
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/entrypoint.sh"]
CMD ["mcp"]
