"""Gevent entry of a user's app: patch the standard library before the app, or anything else, loads."""

from benchapp.patching import loaded, patch_all

patch_all()

from benchapp.user_wsgi import app  # noqa: E402  (after patching)

loaded()  # the patch line again, with the blocking drivers the app loaded

__all__ = ["app"]
