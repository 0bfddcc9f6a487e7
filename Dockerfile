# The Pulse worker image, used by docker-compose.yml (production-like stack).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY models ./models
RUN pip install . && useradd --create-home pulse && mkdir -p /data && chown pulse /data
USER pulse

# Connection and behaviour come from PULSE_* variables (see README "Running on Kafka").
ENV PULSE_WORKDIR=/data PULSE_METRICS_HOST=0.0.0.0 PULSE_METRICS_PORT=9464
EXPOSE 9464
# Alive while the worker's event loop runs (/healthz fails when it has stalled; /readyz is
# for traffic). Python's own urllib: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PULSE_METRICS_PORT', '9464') + '/healthz', timeout=4)"]
ENTRYPOINT ["pulse"]
CMD ["worker"]
