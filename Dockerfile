# leadq daemon: `leadq run` on the config's schedule, /healthz and /metrics on port 9464.
#
#   docker build -t leadq .
#   docker run -d --name leadq -p 9464:9464 --stop-timeout 120 \
#     -v "$PWD/config:/config:ro" -v leadq-state:/state \
#     -e LEADQ_SF_CLIENT_SECRET -e LEADQ_HUBSPOT_TOKEN \
#     leadq
#
# --stop-timeout: on `docker stop` leadq finishes the batch in flight (up to a 10,000-record Bulk API job).
# /config holds leadq.yaml (and any CA bundle or secret file it names); /state holds the state database,
# models and reports; pass with -e whichever environment variables leadq.yaml references.
#
# State: LEADQ_STATE_DIR=/state puts models and reports in /state instead of `.leadq/` next to the config,
# and the default database (`state.url: "sqlite:///leadq.db"`, as `leadq init` writes it) becomes
# /state/leadq.db; `sqlite:////state/leadq.db` (four slashes: an absolute path) says the same explicitly,
# and a postgresql:// URL works too. So /config can be mounted read-only. No secret is baked into the image: the config refers to
# environment variables or files, which are passed at run time.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector/ connector/
COPY sandbox/ sandbox/
COPY mappings/ mappings/
COPY scoring/ scoring/
COPY sync/ sync/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEADQ_STATE_DIR=/state \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=build /wheels /wheels
# The runtime dependencies only (no dev extras), no pip cache left in the layer.
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 leadq \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin leadq \
    && mkdir -p /config /state \
    && chown 10001:10001 /state
USER 10001:10001
WORKDIR /state
VOLUME ["/state"]
EXPOSE 9464
# slim has no curl: ask /healthz with Python (503, a refused connection or a timeout all fail the check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
# Exec form: leadq is PID 1 and receives SIGTERM itself (it finishes the current batch, then exits 0).
STOPSIGNAL SIGTERM
CMD ["leadq", "run", "--config", "/config/leadq.yaml", "--port", "9464"]
