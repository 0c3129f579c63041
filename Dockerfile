# The bot in a container: `docker build -t dbslm .` then
#   docker run -it -v dbslm-data:/data dbslm                  # the console, SQLite on the volume
#   docker run -d --env-file .env -v dbslm-data:/data dbslm   # Discord and/or Slack
#   docker run --rm -v dbslm-data:/data dbslm dbslm backup /data/backup.sqlite3
# compose.yaml runs it with MariaDB. BASE may name another Python 3.11 image with pip.
ARG BASE=python:3.11-slim

FROM ${BASE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dbslm dbslm
COPY bot bot
COPY adapters adapters
COPY app app
RUN python3 -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${BASE}
RUN useradd --create-home --uid 10001 dbslm && mkdir /data && chown dbslm:dbslm /data
COPY --from=wheels /wheels /wheels
RUN python3 -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER dbslm
WORKDIR /home/dbslm
# The default SQLite file (in the data folder, /data/dbslm/) on the volume: a container's own
# disk is lost with it. The operations port open to the host's health checks and Prometheus.
ENV XDG_DATA_HOME=/data \
    BOT_HTTP_HOST=0.0.0.0 \
    BOT_HTTP_PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["dbslm-bot"]
