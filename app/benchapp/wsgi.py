"""Unpatched entry point: the sync modes serve `benchapp.wsgi:app`."""

from benchapp.app import create_app

app = create_app()
