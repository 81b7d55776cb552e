"""The OCR step: scanned documents (local or S3) to text, Markdown and JSON, with a per-batch report."""

__version__ = "0.1.0"
