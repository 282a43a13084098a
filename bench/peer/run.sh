#!/usr/bin/env bash
# Start the benchmark peer: Django + DRF + djangorestframework-api-key under gunicorn (sync).
# Env: WORKERS (1), PORT (8181), PEER_DATABASE (bench/peer/peer.db).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${PEER_DATABASE:-}" ] && [ "${PEER_DATABASE#/}" = "$PEER_DATABASE" ]; then
  export PEER_DATABASE="$PWD/$PEER_DATABASE"   # relative to the caller's directory
fi
cd "$HERE"
if [ ! -x .venv/bin/gunicorn ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -r requirements.txt
fi
export DJANGO_SETTINGS_MODULE=peer_site.settings
.venv/bin/python manage.py migrate --noinput -v 0
exec .venv/bin/gunicorn peer_site.wsgi -w "${WORKERS:-1}" -b "127.0.0.1:${PORT:-8181}" \
  --worker-class sync --no-control-socket
