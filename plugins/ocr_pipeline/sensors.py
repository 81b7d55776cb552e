"""The DAG's first task, ``discover``: is there work for this run? It waits only where new work can still
count for it, and when there is, it claims the run's work and plans its batches in the same poke (one task,
not three: each task costs an event run seconds of scheduling).

Which runs wait, and why: a run's selection is a LastModified window (``discovery.Selection``), and S3 sets
LastModified when an object is uploaded, so nothing uploaded from now on can fall into a window that has
already closed.

* a **scheduled** run selects what was modified before its interval's end, and it starts after that end:
  its window is closed, so it checks once;
* a **backfill** run selects exactly its past interval: closed, it checks once;
* an **event** run (asset-triggered) selects the objects its S3 notifications name: it checks once, and
  deletes those messages from the queue (``events``);
* a **manual** run selects everything new now (or its form's dates): what arrives later is the next run's
  (the schedule takes it), so it checks once; only a form's ``date_to`` still in the future leaves its window
  open, and such a run waits until that day ends, at most ``OCR_SENSOR_TIMEOUT``.

A run with nothing to take is skipped at once, with a log line that says why, so an idle run never holds
one of the DAG's ``max_active_runs`` slots that a manual trigger or the next scheduled run needs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from airflow.configuration import conf
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from ocr_pipeline import discovery, events, tasks
from ocr_pipeline.settings import resolve

log = logging.getLogger(__name__)


def waiting_seconds(selection: discovery.Selection, now: datetime, longest: float) -> float:
    """How long a run with this selection may wait for new work: until its window closes, at most ``longest``."""
    if selection.end is None or selection.end <= now:
        return 0.0
    return min(longest, (selection.end - now).total_seconds())


class DiscoverySensor(BaseSensorOperator):
    """Satisfied only by *new* work: an object that this run's selection admits, that the catalog has not
    finished and that no active run holds (see ``discovery``); the claims of runs that have ended are
    dropped first, so work an ended run left behind is new work again.

    Each poke walks the listing (or the inventory report) once, a page at a time, and claims the run's work
    (``tasks.discover``): one walk whether there is work or not, and memory stays flat whatever
    the bucket's size (the provider's ``S3KeySensor`` lists every matching key into memory). When it claimed
    work, the same poke plans its batches (``tasks.plan``): its XCom is the batches ``ocr`` maps over, and
    ``found`` the counts. Nothing new skips the run; a failure to reach S3 or
    the catalog fails it, like any other error (and a retry decides afresh: ``tasks.open_catalog`` gives back
    an earlier attempt's claims before the poke looks). Runs in reschedule mode: the worker slot is free between pokes.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)

    def execute(self, context):
        selection = self._selection(context)
        # from the first poke (a rescheduled poke starts a new execute): the window's end, at most the setting
        started = context["ti"].get_first_reschedule_date(context) or datetime.now(UTC)
        self.timeout = waiting_seconds(selection, started, self.timeout)
        try:
            return super().execute(context)
        except AirflowSensorTimeout as timeout:
            source = resolve(context["params"], context["dag_run"].dag_id).source_uri
            why = (
                f"waited {self.timeout:.0f} s while its window was open"
                if self.timeout
                else "its window is closed: nothing uploaded from now on can count for this run"
            )
            raise AirflowSkipException(
                f"Nothing new under {source} ({selection.describe()}); {why}"
            ) from timeout

    @staticmethod
    def _selection(context) -> discovery.Selection:
        return discovery.Selection.for_run(
            context["dag_run"].run_type, context.get("data_interval_start"), context.get("data_interval_end"),
            context["params"], context["dag_run"].run_after,
        )  # fmt: skip

    def poke(self, context) -> bool | PokeReturnValue:
        settings = resolve(context["params"], context["dag_run"].dag_id)
        selection = self._selection(context)
        run_id, dag_id = context["dag_run"].run_id, context["dag_run"].dag_id
        max_map_length = conf.getint("core", "max_map_length")
        catalog = tasks.open_catalog(settings, run_id, tasks.run_is_active(context["ti"]), max_map_length)

        notified, messages = events.run_objects(context, settings)
        hook = S3Hook(aws_conn_id=settings.aws_conn_id)
        counts = tasks.discover(settings, selection, dag_id, run_id, catalog, notified, hook)
        batches = None
        if counts.claimed:
            context["ti"].xcom_push("found", counts.model_dump())
            batches = [b.model_dump() for b in tasks.plan(settings, run_id, hook)]
        if messages:  # this run has taken what they name (its claims), or nothing in them was new
            log.info("Deleted %d of %d S3 notification messages", events.consume(messages, settings), len(messages))
        return PokeReturnValue(is_done=True, xcom_value=batches) if counts.claimed else False
