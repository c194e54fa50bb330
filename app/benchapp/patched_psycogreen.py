"""Gevent entry point that also makes psycopg2 cooperative (psycogreen).

gevent patches only the standard library; psycopg2 talks to PostgreSQL in C,
so without psycogreen's wait callback every query blocks the whole process.
"""

# benchapp.patching imports nothing gevent patches; it logs what was patched when monitored
from benchapp.patching import loaded, patch_all

patch_all()

from psycogreen.gevent import patch_psycopg  # noqa: E402

patch_psycopg()

from benchapp.wsgi import app  # noqa: E402  (re-export, after patching)

loaded()  # the patch line again, with the blocking drivers the app loaded

__all__ = ["app"]
