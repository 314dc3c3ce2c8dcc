# ALL-Lab web image: Django under gunicorn, static files served by whitenoise. No torch: the web never runs a model.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN grep -v '^torch' requirements.txt > requirements-web.txt && pip install -r requirements-web.txt
COPY . .
# Static files are collected at build time (hashed names); the dummy key exists only for this build step.
RUN DEBUG=false STATIC_MANIFEST=true SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0
RUN useradd --create-home --uid 1000 alllab && mkdir -p /app/var/media && chown -R alllab /app/var
USER alllab
ENV DEBUG=false STATIC_MANIFEST=true PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn alllab.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --timeout 120 --access-logfile -"]
