# ALL-Lab worker image: the Celery worker with a CUDA build of torch. One process per GPU; scale with more containers.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
COPY requirements.txt .
# The CUDA build of the pinned torch version first, then everything else (pip keeps the torch already there).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
RUN pip install "$(grep '^torch==' requirements.txt)" --index-url "$TORCH_INDEX_URL" && pip install -r requirements.txt
COPY . .
RUN useradd --create-home --uid 1000 alllab && mkdir -p /app/var/media && chown -R alllab /app/var
USER alllab
ENV DEBUG=false ALLLAB_DEVICE=auto
HEALTHCHECK --interval=60s --timeout=20s --retries=3 \
  CMD celery -A alllab inspect ping -d "celery@$HOSTNAME" --timeout 15 >/dev/null || exit 1
CMD ["celery", "-A", "alllab", "worker", "--concurrency", "1", "--loglevel", "INFO"]
