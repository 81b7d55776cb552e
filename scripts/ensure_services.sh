#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1:5432 for the catalog tests: started when installed but stopped,
# installed (with trust for loopback connections) when missing.
set -euo pipefail

ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
ready && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
fresh=""
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "Installing PostgreSQL for the catalog tests"
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
  fresh=1
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ -n "$fresh" ]; then
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi
$sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 30); do
  ready && exit 0
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432 (the catalog tests need it)" >&2
exit 1
