#!/usr/bin/env bash
# The test suite in two pytest processes side by side (make test): the system tests spend most of their time
# waiting for the deployment, and this machine has two cores.
#   - the system tests (marked machine_services in tests/conftest.py), in order, in one process: they share
#     one deployment on the machine's PostgreSQL and Redis, and the chaos tests stop and restart those servers
#     (the other side's tests on PostgreSQL hold it up meanwhile: tests/postgres.py);
#   - every other test in the other, at a low priority: in a session (so a scheduling group) of its own,
#     niced, so that the deployment's processes (each in a session of its own, scripts/stack.py) have the
#     cores first, and its latency measurements (marked quiet_machine) measure the deployment, not the
#     deployment fighting the rest of the suite. That side runs in two pytest-xdist workers, each test file
#     on one of them (its module fixtures made once): while the deployment's side waits for a run or a
#     schedule's boundary, the cores it leaves idle were otherwise taken by one test at a time.
# Each prints its 15 slowest tests (the suite's time is watched: under 25 min). Arguments go to both. The exit
# status is the first failure's; both logs are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
OTHERS_NICE=10  # the other side's share of a contended core: about a tenth (CFS weights 110 against 1024)

.venv/bin/python -m pytest -q -m machine_services --durations=15 --basetemp "$work/services" "$@" > "$work/services.log" 2>&1 &
services_pid=$!
# setsid: a new session, whose scheduling group (the kernel's autogroup) takes the nice value written to
# /proc/self/autogroup (without autogroups, the plain nice value does the same)
setsid sh -c 'echo "$1" > /proc/self/autogroup 2>/dev/null; shift; exec "$@"' sh "$OTHERS_NICE" \
  nice -n "$OTHERS_NICE" .venv/bin/python -m pytest -q -n 2 --dist loadfile -m "not machine_services" --durations=15 --basetemp "$work/others" "$@" \
  > >(tee "$work/others.log") 2>&1 &
others_pid=$!
# the other side is in a session of its own: an interrupt of this script does not reach it by itself
trap 'kill -- -"$others_pid" "$services_pid" 2>/dev/null; exit 130' INT TERM
wait "$others_pid"
others=$?
wait "$services_pid"
services=$?
echo
echo "==== the system tests: the deployment on the machine's PostgreSQL and Redis (runs, events, chaos) ===="
cat "$work/services.log"
status=0
for code in "$others" "$services"; do
  # 5: nothing selected (arguments that pick tests of one side only)
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ] && [ "$status" -eq 0 ]; then status=$code; fi
done
exit "$status"
