#!/usr/bin/env bash
# The local services the catalog tests, the system tests and `make stack` use, on loopback:
# PostgreSQL on 127.0.0.1:5432 (trust for loopback) and Redis on 127.0.0.1:6379 (the Celery broker).
# Each is started when installed but stopped, installed from Debian's packages when missing.
# Nothing here is stopped again: they are the machine's services, shared with whatever else uses them.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=""
install() {
  [ -n "$updated" ] || { $sudo apt-get update -qq || true; updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}
wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 30); do "$@" && return 0; sleep 1; done
  echo "$name did not come up on loopback" >&2
  return 1
}

postgres_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! postgres_ready; then
  fresh=""
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "Installing PostgreSQL"
    install postgresql
    fresh=1
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  [ -z "$fresh" ] || $sudo sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL postgres_ready
fi

redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_ready; then
  if ! command -v redis-server >/dev/null; then
    echo "Installing Redis"
    install redis-server redis-tools
  fi
  $sudo mkdir -p /var/lib/redis /var/log/redis
  $sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_ready
fi
