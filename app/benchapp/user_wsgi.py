"""Unpatched entry of a user's app (benchapp.userapp): the sync modes serve `benchapp.user_wsgi:app`."""

from benchapp.userapp import wsgi_app

app = wsgi_app()
