"""What runs on the bench hosts, with their system Python and nothing but its standard library.

The bench role unpacks this package into bench_scripts_dir on each bench host
and runs its programs as `python3 -m benchhost.NAME` with that folder on
PYTHONPATH:

- run: the plan runner (app, load and upstream roles), which starts the others
- sample: the sampler of a systemd unit's CPU and memory (server.json)
- clients.ab, clients.wrk, clients.rate: the load clients (loadgen.json and the client's raw files)
- env: the host's description (environment.json's parts)
- drillload: the drills' load client (the drills role copies this one file)
- monitor: gevent's monitor reports and the app's patch line in a unit's journal (monitor.json)
- process: what the clients share (signals, the clock, /proc/stat, the open-files limit)
"""
