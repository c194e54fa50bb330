"""Gevent entry of a user's app: patch the standard library before the app, or anything else, loads."""

from benchapp.patching import patch_all

patch_all()

from benchapp.user_wsgi import app  # noqa: E402  (after patching)

__all__ = ["app"]
