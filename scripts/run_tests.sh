#!/usr/bin/env bash
# The test suite in two pytest processes side by side (make test): the system tests spend most of their time
# waiting for the deployment, and this machine has two cores.
#   - the tests that use the machine's PostgreSQL and Redis (marked machine_services in tests/conftest.py),
#     in order, in one process: the system tests stop and restart those servers (chaos) and share one
#     deployment;
#   - every other test in the other.
# Each prints its 15 slowest tests (the suite's time is watched: under 25 min). Arguments go to both. The exit status is the first failure's; both logs are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
# The latency measurements (marked quiet_machine) run last on their side, once the other side has ended.
OCR_TESTS_OTHERS_DONE="$work/others.done" \
  .venv/bin/python -m pytest -q -m machine_services --durations=15 --basetemp "$work/services" "$@" > "$work/services.log" 2>&1 &
services_pid=$!
.venv/bin/python -m pytest -q -m "not machine_services" --durations=15 --basetemp "$work/others" "$@" 2>&1 | tee "$work/others.log"
others=${PIPESTATUS[0]}
touch "$work/others.done"
wait "$services_pid"
services=$?
echo
echo "==== the tests on the machine's PostgreSQL and Redis (system, chaos, catalog on PostgreSQL) ===="
cat "$work/services.log"
status=0
for code in "$others" "$services"; do
  # 5: nothing selected (arguments that pick tests of one side only)
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ] && [ "$status" -eq 0 ]; then status=$code; fi
done
exit "$status"
