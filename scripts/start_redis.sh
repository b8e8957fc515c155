#!/usr/bin/env bash
# Start a throwaway Redis server (Debian's redis-server package) for the task-queue tests and local trials.
# Prints the broker URL to use:
#   export FER_TEST_REDIS_URL=$(bash scripts/start_redis.sh)
set -euo pipefail
PORT=${REDIS_PORT_TEST:-56379}
DIR=${REDIS_DIR_TEST:-/tmp/fer-test-redis}
if ! command -v redis-server >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server) >&2
fi
if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
  mkdir -p "$DIR"
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no --daemonize yes \
    --logfile "$DIR/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "redis://127.0.0.1:$PORT/0"
