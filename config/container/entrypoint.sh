#!/bin/sh
# Torii's container entrypoint: one role per container, the same commands as `make run`.
#   web          migrate (once: under a lock), bootstrap_admin, then granian
#   worker       waits until the migrations are applied, then the task worker (task_worker)
#   healthcheck  GET /livez on this container's granian (the image's HEALTHCHECK): is the
#                process alive. `healthcheck ready` asks /readyz: can it serve (database,
#                caches, journal), for a load balancer's or orchestrator's readiness probe
#   manage ...   any manage.py command, e.g. `manage shell` or `manage backup`
# Static files are collected when the image is built (Containerfile), not on each start.
# Configuration comes only from the environment (README, "Configuration").
set -eu
cd "$(dirname "$0")/../.."  # the project: /app in the image

: "${HOST:=0.0.0.0}" "${PORT:=8000}" "${WEB_CONCURRENCY:=2}" "${GRANIAN_THREADS:=2}"
# Seconds a start waits for the database, and a worker for the migrations: a compose file
# starts every service at once (config/container/wait.py).
: "${TORII_WAIT_SECONDS:=60}"
export TORII_WAIT_SECONDS
# Metrics files (docs/operations.md, "Metrics") stay inside each container, off the shared
# volume: two containers' processes may have the same pid, and each must count alone.
: "${PROMETHEUS_MULTIPROC_DIR:=/tmp/torii-metrics}"
export PROMETHEUS_MULTIPROC_DIR

role=${1:-web}
[ "$#" -gt 0 ] && shift

case "$role" in
web)
    python config/container/wait.py database
    # Upgrades migrate here, on start. The lock on the data volume keeps two web
    # containers sharing it from migrating at once; a second one waits, then finds
    # nothing to do.
    flock "$DATA_DIR/.migrate.lock" python manage.py migrate --noinput
    python manage.py bootstrap_admin
    python manage.py reset_metrics
    echo "torii: serving on $HOST:$PORT with $WEB_CONCURRENCY workers"
    # A worker that dies is replaced while the others serve (docs/operations.md).
    exec granian --interface wsgi --host "$HOST" --port "$PORT" \
        --workers "$WEB_CONCURRENCY" --blocking-threads "$GRANIAN_THREADS" \
        --respawn-failed-workers --no-ws config.wsgi:application
    ;;
worker)
    # The web role migrates; a worker started beside it waits for the tables it reads.
    python config/container/wait.py migrations
    python manage.py reset_metrics
    exec python manage.py task_worker --no-startup-delay
    ;;
healthcheck)
    # Liveness by default: a container restarted because the database is away comes back
    # to the same outage, and its start then waits for the database instead of serving.
    path=/livez
    [ "${1:-live}" = ready ] && path=/readyz
    # The Host header must be one the site answers to: SITE_HOST, else the first
    # ALLOWED_HOSTS entry that names one host, as the settings choose the site's own.
    host=${SITE_HOST:-}
    set -f # an entry `*` is not a file pattern
    for entry in $(printf '%s' "${ALLOWED_HOSTS:-}" | tr ',' ' '); do
        [ -n "$host" ] && break
        case "$entry" in '*' | *'['*) ;; *) host=${entry#.} ;; esac
    done
    exec python -c '
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Host": sys.argv[2]})
with urllib.request.urlopen(request, timeout=4) as response:
    sys.exit(0 if response.status == 200 else 1)
' "http://127.0.0.1:$PORT$path" "${host:-localhost}"
    ;;
manage)
    exec python manage.py "$@"
    ;;
*)
    echo "torii: unknown role '$role' (web, worker, healthcheck, manage ...)" >&2
    exit 64
    ;;
esac
