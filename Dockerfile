# wardwatch worker image: `docker build -t wardwatch .`
# The same image runs every role: worker (default), simulate, notify, ...
#   docker run --rm wardwatch --help
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Metadata first, then the three packages (monitor, alerts, streams);
# tests, deploy files and docs stay out of the image (.dockerignore).
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alerts ./alerts
COPY streams ./streams
RUN pip install --upgrade pip && pip install .


FROM python:3.11-slim

# Non-root user owning only the state directory.
RUN groupadd --system --gid 10001 wardwatch \
    && useradd --system --uid 10001 --gid wardwatch \
        --home-dir /var/lib/wardwatch --no-create-home --shell /usr/sbin/nologin wardwatch \
    && mkdir -p /var/lib/wardwatch \
    && chown wardwatch:wardwatch /var/lib/wardwatch

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WARDWATCH_DATA_DIR=/var/lib/wardwatch \
    WARDWATCH_LOG_FORMAT=json

USER wardwatch
WORKDIR /var/lib/wardwatch
VOLUME ["/var/lib/wardwatch"]

# web (ingest, console, /healthz, /readyz), metrics, HL7 v2 MLLP
EXPOSE 6066 9108 2575

# Liveness of the worker's web server. No curl in the slim image: use Python.
# Roles without the web server (simulate, notify) override or disable this
# in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('WARDWATCH_WEB_PORT') or '6066'; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % port, timeout=4).status == 200 else 1)"]

ENTRYPOINT ["wardwatch"]
CMD ["worker"]
