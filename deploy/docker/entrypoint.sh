#!/bin/sh
# Starts one nasrl service: the first argument (param-server | controller | worker | nasrl), or the image's
# NASRL_SERVICE (build-arg SERVICE) when no argument is given. Every service reads its configuration from the
# environment (NASRL_PS_*, NASRL_CONTROLLER_*, NASRL_WORKER_*, REDIS_URL) and rejects unknown keys.
set -eu
service="${NASRL_SERVICE:-}"
if [ "$#" -gt 0 ]; then
  service="$1"
  shift
fi
case "$service" in
  param-server|controller|worker)
    exec node "/app/services/$service/dist/src/main.js" "$@"
    ;;
  nasrl)
    exec node /app/packages/cli/bin/nasrl.js "$@"
    ;;
  *)
    echo "usage: <image> param-server | controller | worker | nasrl [ARGS...] (got '${service}')" >&2
    exit 64
    ;;
esac
