# syntax=docker/dockerfile:1
#
# One image for every Vigie service; docker-compose.yml (or a Kubernetes manifest) picks the
# service with the command: vigie-sso-gateway, vigie-dpo-requests, vigie-audit-log, or vigie.

ARG PYTHON_IMAGE=python:3.12-slim
# Same uv as the one that wrote uv.lock, so `--frozen` reads it as it is.
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=uv /uv /uvx /bin/

# Compile bytecode now (the runtime user cannot write into the venv); copy rather than
# hard-link out of the cache mount; use the image's Python, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first: this layer is rebuilt only when a pyproject or the lock moves.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/sso_gateway/pyproject.toml services/sso_gateway/pyproject.toml
COPY services/dpo_requests/pyproject.toml services/dpo_requests/pyproject.toml
COPY services/audit_log/pyproject.toml services/audit_log/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace

# Then Vigie itself, installed as regular (non-editable) wheels so the venv stands alone.
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 vigie \
    && useradd --system --uid 10001 --gid vigie --create-home --home-dir /home/vigie \
        --shell /usr/sbin/nologin vigie

# Only the venv: the sources are installed inside it, no build tool reaches the final image.
COPY --from=builder /app/.venv /app/.venv

WORKDIR /home/vigie
USER 10001:10001

# Harmless default: compose / the orchestrator sets each service's command.
CMD ["python", "-c", "print('Vigie image: run vigie-sso-gateway, vigie-dpo-requests or vigie-audit-log')"]
