# syntax=docker/dockerfile:1
# Postflow: one image for every process. docker-compose.yml picks the command per service:
#   python -m commands api | worker | ingress | migrate
# See deploy/README-compose.md.
FROM python:3.11-slim

# LITELLM_LOCAL_MODEL_COST_MAP: litellm uses its bundled cost map instead of fetching one at import.
# ORT_DISABLE_TELEMETRY / ANONYMIZED_TELEMETRY: no telemetry from onnxruntime or chromadb.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    ORT_DISABLE_TELEMETRY=1 \
    ANONYMIZED_TELEMETRY=False \
    POSTFLOW_DATA_DIR=/data

# Unprivileged runtime user with a real home (library caches land in ~/.cache).
RUN groupadd --system --gid 10001 postflow \
 && useradd --system --uid 10001 --gid postflow --create-home --home-dir /home/postflow \
        --shell /usr/sbin/nologin postflow

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The project itself (.dockerignore keeps tests, data, venvs and .env out of the image).
# /data is the blob volume: owned by the runtime user so a fresh named volume inherits that
# ownership. /app stays root-owned, so the running process cannot modify its own code.
COPY . .
RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info \
 && mkdir -p /data \
 && chown postflow:postflow /data

USER postflow

# 8000: HTTP API. 2525: SMTP inside the container (compose publishes host port 25 -> 2525).
# 25: for operators who set POSTFLOW_SMTP_PORT=25 (Docker >= 20.10 lets non-root processes
# bind ports below 1024 inside a container's network namespace).
EXPOSE 8000 2525 25

CMD ["python", "-m", "commands", "api"]
