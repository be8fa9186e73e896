# TechHelp: one image for every process (`chatbot serve`, `socket`, `clock`, `db upgrade`).
# Installs exactly what was tested: requirements.lock, checked by hash, then the project alone.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PORT=3000

WORKDIR /app
RUN useradd --create-home --uid 10001 techhelp

# The dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY chatbot ./chatbot
COPY commands ./commands
COPY templates ./templates
RUN pip install --no-deps . && rm -rf /app/chatbot /app/commands /app/templates

USER techhelp
WORKDIR /home/techhelp
EXPOSE 3000
# `chatbot serve` and `chatbot socket` answer GET /healthz on $PORT (200: database up and, for
# `socket`, a live connection to Slack). compose.yaml gives `clock` its own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"
CMD ["chatbot", "serve"]
