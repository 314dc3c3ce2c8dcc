#!/usr/bin/env bash
# `make images`: the web and worker images from what a clean checkout holds (git's tracked and unignored files,
# nothing from .venv, var/ or a developer's data), with this machine's pip configuration.
#   docker/build-images.sh [web] [worker] [postgres] [redis]     default: web worker
# Environment:
#   TORCH=cu128|cpu      the worker's torch build (default cu128, the production image; cpu is what CI runs)
#   TAG=latest           image tag: alllab-web:$TAG, alllab-worker:$TAG-$TORCH, alllab-postgres:$TAG ...
#   BASE_IMAGE=...       default: a local Debian bookworm minbase made by docker/base-image.sh (no registry needed);
#                        debian:bookworm-slim where Docker Hub is reachable
#   TORCH_INDEX_URL=...  default: PyTorch's index for a CUDA variant, none for cpu (pip's own configuration
#                        then has to hold the CPU wheel, as this machine's /opt/wheels does)
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=${DOCKER:-docker}
TORCH=${TORCH:-cu128}
TAG=${TAG:-latest}
BASE_IMAGE=${BASE_IMAGE:-alllab/bookworm-minbase:local}
if [ -z "${TORCH_INDEX_URL+set}" ]; then
  if [ "$TORCH" = cpu ]; then TORCH_INDEX_URL=""; else TORCH_INDEX_URL="https://download.pytorch.org/whl/$TORCH"; fi
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(web worker)

$DOCKER info >/dev/null 2>&1 || { echo "docker cannot reach a daemon (start dockerd first)" >&2; exit 1; }
if [ "$BASE_IMAGE" = alllab/bookworm-minbase:local ]; then
  docker/base-image.sh "$BASE_IMAGE"
fi

WORK=$(mktemp -d /tmp/alllab-build.XXXXXX)
MIRROR_PID=""
cleanup() {
  [ -z "$MIRROR_PID" ] || kill "$MIRROR_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The build context: exactly the files git would check out (plus uncommitted edits), as a tar on stdin.
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf "$WORK/context.tar"
echo "build context: $(du -h "$WORK/context.tar" | cut -f1) from git's file list"

# This machine's pip settings, with local folders served on loopback for the build (docker/pip_mirror.py).
mkdir -p "$WORK/extra"
python3 docker/pip_mirror.py --args-file "$WORK/pip-args" --context-dir "$WORK/extra" &
MIRROR_PID=$!
for _ in $(seq 50); do [ -s "$WORK/pip-args" ] && break; sleep 0.2; done
[ -s "$WORK/pip-args" ] || : >"$WORK/pip-args"  # no local pip settings: pip's defaults
# pip's CA bundle, if it names one, rides in the context (the Dockerfile copies .pip-build/ into the build stages).
[ ! -d "$WORK/extra/.pip-build" ] || tar -rf "$WORK/context.tar" -C "$WORK/extra" .pip-build
PIP_ARGS=()
while IFS= read -r line; do PIP_ARGS+=(--build-arg "$line"); done <"$WORK/pip-args"

build() {  # build TARGET TAG DOCKERFILE [extra args...]
  local target=$1 tag=$2 file=$3
  shift 3
  echo "== building $tag (target $target)"
  local started=$SECONDS
  # Host networking: the build reaches the loopback pip mirror; no docker bridge is involved.
  nice -n 10 $DOCKER build --network host --target "$target" -f "$file" -t "$tag" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" "${PIP_ARGS[@]}" "$@" - <"$WORK/context.tar"
  echo "== $tag built in $((SECONDS - started)) s, $($DOCKER image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
}

for target in "${TARGETS[@]}"; do
  case $target in
    web) build web "alllab-web:$TAG" docker/Dockerfile ;;
    worker)
      build worker "alllab-worker:$TAG-$TORCH" docker/Dockerfile \
        --build-arg TORCH_VARIANT="$TORCH" --build-arg TORCH_INDEX_URL="$TORCH_INDEX_URL"
      ;;
    postgres) build postgres "alllab-postgres:$TAG" docker/services.Dockerfile ;;
    redis) build redis "alllab-redis:$TAG" docker/services.Dockerfile ;;
    *) echo "unknown image $target (web, worker, postgres, redis)" >&2; exit 2 ;;
  esac
done
