"""The retrieval service: a FastAPI app over one index (``create_app``) and its web page."""

from terrahash.service.app import create_app

__all__ = ["create_app"]
