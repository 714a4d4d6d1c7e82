# LinePulse image: the worker, connectors, simulator and CLI. Everything it needs is installed at
# build time from the wheel's dependencies, so the running container needs no internet.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY connectors ./connectors
COPY streams ./streams
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LINEPULSE_DATA_DIR=/data \
    HOME=/tmp
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --uid 10001 --user-group --no-create-home linepulse \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 6066
ENTRYPOINT ["linepulse"]
CMD ["worker"]
