"""OpenLineage events checked against the spec, as a lineage consumer would read them.

The spec's JSON Schema files are not on any registry this machine reaches, so the check uses what is: the
``openlineage-python`` client's models, which are generated from those schema files
(``openlineage.client.generated``). Each event is rebuilt from its JSON into the client's ``RunEvent``
(required fields, the run id a UUID, the event time an ISO date-time with a time and a zone, the event type
one of the spec's), and each facet into the model its ``_schemaURL`` names (the spec's standard facets:
their required fields, no unknown ones). Facets of other schemas (Airflow's, this project's ``ocrBatch``) need
the base facet's ``_producer`` and ``_schemaURL`` as absolute URIs; ``ocrBatch`` is also checked against its
own schema, ``docs/lineage/OcrBatchRunFacet.json``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import attr
import jsonschema
from openlineage.client import generated
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import BaseFacet

OCR_BATCH_SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "lineage" / "OcrBatchRunFacet.json"


def _standard_facets() -> dict[str, type]:
    """The client's facet models by the schema URL each declares."""
    models = {}
    for module in pkgutil.iter_modules(generated.__path__):
        for value in vars(importlib.import_module(f"{generated.__name__}.{module.name}")).values():
            if isinstance(value, type) and issubclass(value, BaseFacet) and attr.has(value):
                models[value._get_schema()] = value
    # the base facets allow any further properties: a facet that names one as its schema is checked as a base facet
    return {url: model for url, model in models.items() if model.__module__ != f"{generated.__name__}.base"}


STANDARD_FACETS = _standard_facets()


def _absolute_uri(value) -> bool:
    parsed = urlparse(value) if isinstance(value, str) else None
    return bool(parsed and parsed.scheme and (parsed.netloc or parsed.scheme == "urn"))


def facet_problems(where: str, facets: dict) -> list[str]:
    problems = []
    for name, facet in (facets or {}).items():
        if not isinstance(facet, dict):
            problems.append(f"{where}.{name}: not an object")
            continue
        if not _absolute_uri(facet.get("_producer")) or not _absolute_uri(facet.get("_schemaURL")):
            problems.append(f"{where}.{name}: _producer and _schemaURL must be absolute URIs")
            continue
        model = STANDARD_FACETS.get(facet["_schemaURL"])
        if model is not None:
            fields = {k: v for k, v in facet.items() if not k.startswith("_")}
            try:
                model(**fields)
            except (TypeError, ValueError) as error:
                problems.append(f"{where}.{name}: not a valid {model.__name__}: {error}")
        if name == "ocrBatch":
            schema = json.loads(OCR_BATCH_SCHEMA.read_text())["$defs"]["OcrBatchRunFacet"]["allOf"][1]
            for error in jsonschema.Draft202012Validator(schema).iter_errors(facet):
                problems.append(f"{where}.{name}: {error.message}")
    return problems


def event_problems(event: dict) -> list[str]:
    """What is wrong with one event by the spec; empty when nothing is."""
    try:
        time = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))
        if time.tzinfo is None or "T" not in event["eventTime"].upper():
            return [f"eventTime {event['eventTime']!r} needs a time and a zone"]
        RunEvent(
            eventType=RunState(event["eventType"]),
            eventTime=event["eventTime"],
            producer=event["producer"],
            run=Run(runId=event["run"]["runId"], facets={}),
            job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets={}),
            inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in event.get("inputs") or []],
            outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in event.get("outputs") or []],
        )
    except (KeyError, TypeError, ValueError) as error:
        return [f"not a RunEvent: {error!r}"]
    problems = []
    if not _absolute_uri(event["producer"]) or not str(event.get("schemaURL", "")).endswith("#/$defs/RunEvent"):
        problems.append("producer and schemaURL (…#/$defs/RunEvent) must be absolute URIs")
    if not event["job"]["namespace"] or not event["job"]["name"]:
        problems.append("the job needs a namespace and a name")
    problems += facet_problems("run.facets", event["run"].get("facets"))
    problems += facet_problems("job.facets", event["job"].get("facets"))
    for kind in ("inputs", "outputs"):
        for dataset in event.get(kind) or []:
            where = f"{kind}[{dataset['namespace']}/{dataset['name']}]"
            problems += facet_problems(f"{where}.facets", dataset.get("facets"))
            problems += facet_problems(f"{where}.{kind[:-1]}Facets", dataset.get(f"{kind[:-1]}Facets"))
    return problems
