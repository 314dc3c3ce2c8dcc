#!/usr/bin/env bash
# The local base image: Debian bookworm from Debian's own packages (debootstrap --variant=minbase), imported as an
# image, for machines that reach no image registry. It stands in for debian:bookworm-slim in the Dockerfiles'
# BASE_IMAGE argument. Idempotent: an existing tag is kept (FORCE=1 rebuilds it).
#   docker/base-image.sh [TAG]        default TAG: alllab/bookworm-minbase:local
set -euo pipefail
TAG=${1:-${BASE_IMAGE:-alllab/bookworm-minbase:local}}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}

if [ "${FORCE:-0}" != 1 ] && $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }

ROOT=$(mktemp -d /tmp/alllab-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
echo "debootstrap bookworm (minbase) from $MIRROR into $ROOT"
nice -n 10 debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
  tail -20 "$ROOT.log" >&2
  exit 1
}
rm -f "$ROOT.log"
# What debian:bookworm-slim also leaves out: downloaded packages, package lists, docs nobody reads in a container.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/*
tar -C "$ROOT" --numeric-owner -c . | $DOCKER import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$TAG"
echo "imported $TAG ($($DOCKER image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
