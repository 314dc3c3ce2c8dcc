#!/usr/bin/env bash
# The deployment's secrets as files (mounted into the containers at /run/secrets, read through *_FILE): a Django
# secret key, the database password, and the database URL that carries it. Existing files are kept.
#   docker/make-secrets.sh [DIR]      default DIR: docker/secrets (ignored by git)
set -euo pipefail
DIR=${1:-$(dirname "$0")/secrets}
mkdir -p "$DIR"
chmod 700 "$DIR"  # only the owner reaches the files; the containers get them as bind mounts
random() { python3 -c "import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))" "$1"; }
[ -s "$DIR/secret_key" ] || random 50 >"$DIR/secret_key"
[ -s "$DIR/postgres_password" ] || random 24 >"$DIR/postgres_password"
[ -s "$DIR/database_url" ] || echo "postgres://alllab:$(cat "$DIR/postgres_password")@${DB_HOST:-postgres}:${DB_PORT:-5432}/alllab" >"$DIR/database_url"
# Readable inside the containers, whose users (alllab, postgres) are not this machine's.
chmod 644 "$DIR"/secret_key "$DIR"/postgres_password "$DIR"/database_url
echo "secrets in $DIR: secret_key postgres_password database_url"
