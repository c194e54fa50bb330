"""The load clients, one module each, run as `python3 -m benchhost.clients.NAME --dir DIR`."""

#: Every client, by the name bench.yml's `client` takes.
NAMES = ("ab", "wrk", "rate")
