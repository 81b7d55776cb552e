"""Two kinds of failure, and what each does to a batch."""


class DocumentError(Exception):
    """A problem with one document (bad content, missing object, over a limit).

    The document is reported as failed with this message; the batch goes on.
    """


class BatchError(Exception):
    """A problem that stops the whole batch (exit code 1, which launchers retry)."""


class StorageUnavailable(BatchError):
    """The object store cannot be reached, or refuses to take our outputs."""


class EngineUnavailable(BatchError):
    """An OCR engine cannot be loaded: missing package, language data or model files."""


class BatchCancelled(Exception):
    """The batch was cancelled (the service's DELETE of a job): no further document starts, no report."""
