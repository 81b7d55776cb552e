"""Three kinds of failure, and what each does to a batch.

* :class:`DocumentError`: the document's own fault (corrupt, encrypted, wrong type, over a limit, gone or
  changed since it was planned). It fails alone, for good: no retry can change it.
* :class:`DocumentUnreachable`: one document could not be read or recognised for a reason that is not its
  own (access denied to that key, throttling or a server error that outlived the client's retries, an
  engine that raised). It fails alone but is ``retryable`` in the report: the catalog keeps it as work, and
  later runs try it again. Many of them with the same cause in one batch stop the batch (see the runner).
* :class:`BatchError`: the batch cannot run (storage unreachable, bad credentials, engine cannot load):
  exit code 1, no report, the launcher retries it.
"""


class DocumentError(Exception):
    """A problem with one document (bad content, missing object, over a limit).

    The document is reported as failed with this message; the batch goes on.
    """


class DocumentUnreachable(Exception):
    """One document could not be processed for a reason that is not its own; ``cause`` names the reason
    in a few words that are the same for every document it hits (``S3 AccessDenied``, ``engine
    APIStatusError``), so that a batch can tell one bad key from an outage."""

    def __init__(self, message: str, cause: str):
        super().__init__(message, cause)
        self.message, self.cause = message, cause

    def __str__(self) -> str:
        return self.message


class BatchError(Exception):
    """A problem that stops the whole batch (exit code 1, which launchers retry)."""


class StorageUnavailable(BatchError):
    """The object store cannot be reached, refuses our credentials, or refuses to take our outputs."""


class EngineUnavailable(BatchError):
    """An OCR engine cannot be loaded, or its server cannot be reached: missing package, language data,
    model files, or a VLM server that does not answer."""


class BatchCancelled(Exception):
    """The batch was cancelled (the service's DELETE of a job): no further document starts, no report."""
