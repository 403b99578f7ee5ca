# The shegong project image: one image, many processes. Each docker-compose service
# chooses what to run with its own `command` (a Nameko worker, a gunicorn API, or the
# one-shot bootstrap/seed); the default command only prints how to use the image.
FROM python:3.11-slim

ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# An unprivileged user that owns nothing but the writable state directory.
RUN groupadd --system --gid 10001 shegong \
 && useradd --system --uid 10001 --gid shegong --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin shegong

# Dependencies first, so code changes do not invalidate this layer.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY services/ ./services/
COPY deploy/ ./deploy/

# SHEGONG_VAR_DIR (the development SMS sink, sms.jsonl, lives here).
RUN mkdir -p /app/var && chown shegong:shegong /app/var

USER 10001:10001

EXPOSE 8001 8002 8003 8004

CMD ["python", "-c", "print('shegong image: choose a process, e.g.\\n  python -m services.ops.bootstrap\\n  python -m services.casework.seed\\n  python -m services.common.runner {intake,casework,notifications,reporting}\\n  gunicorn \"services.<name>.api:create_app()\" --bind 0.0.0.0:<port> --worker-class gthread --threads 4 --no-control-socket\\nor run the whole system with: docker compose up')"]
