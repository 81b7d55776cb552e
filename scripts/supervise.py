"""Keep one command running, as compose's ``restart: always`` and systemd's ``Restart=always`` do for the
Airflow components in production: ``scripts/stack.py`` starts each component under it.

    python scripts/supervise.py airflow scheduler

Airflow's scheduler, dag-processor and triggerer exit when they lose their database (a PostgreSQL restart)
and expect to be started again. When the command exits, it is started again after a pause that doubles from
1 s up to 30 s while it keeps failing fast, and starts over at 1 s after it ran a minute. SIGTERM or SIGINT
is passed on to the command and ends the supervision.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

MAX_PAUSE = 30
STEADY_SECONDS = 60


def main() -> int:
    command = sys.argv[1:]
    if not command:
        print("usage: supervise.py COMMAND [ARG ...]", file=sys.stderr)
        return 2
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pause = 1
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return code
        pause = 1 if time.monotonic() - started > STEADY_SECONDS else pause
        print(f"supervise: {' '.join(command[:2])} exited with {code}; starting it again in {pause} s", flush=True)
        time.sleep(pause)
        if stopping:
            return code
        pause = min(pause * 2, MAX_PAUSE)


if __name__ == "__main__":
    sys.exit(main())
