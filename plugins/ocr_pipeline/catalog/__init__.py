from ocr_pipeline.catalog.store import Catalog

__all__ = ["Catalog"]
