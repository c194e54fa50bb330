"""benchapp: one Flask app served in many ways, and the slow API it calls.

The shared modules here patch nothing: gevent patching happens only in the
entry points `benchapp.patched`, `benchapp.patched_psycogreen` and
`benchapp.patched_grpc`.
"""
