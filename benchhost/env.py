"""Describe this host for the bench's record of its environment: one JSON object.

Runs on the app and load hosts with the system Python (stdlib only, as root):

    benchhost.env [--venv /opt/flaskbench/venv] [--client ab] [--client wrk] [--clients]
                 [--server nginx] [--out FILE]

Prints (and with --out also writes, atomically, to FILE)::

    {"schema": 1, "hostname": "app1",
     "kernel": "6.1.0-18-amd64",                      # uname -r
     "kernel_version": "#1 SMP PREEMPT_DYNAMIC ...",  # uname -v
     "machine": "x86_64",
     "os": "Debian GNU/Linux 12 (bookworm)",          # /etc/os-release PRETTY_NAME
     "python": "3.11.2",                              # the system Python running this
     "cpu_model": "AMD EPYC 7763 64-Core Processor",  # /proc/cpuinfo (model name, else Hardware, Processor, cpu)
     "cores": 2,                  # CPUs this process may run on (os.sched_getaffinity)
     "cpu_count": 2,              # CPUs the kernel reports (os.cpu_count)
     "cpu_quota_cores": null,     # cgroup v2 cpu.max quota / period, where one is set (containers --cpus)
     "mem_total_mib": 3936,       # /proc/meminfo MemTotal (a container sees the host's)
     "mem_limit_mib": null,       # cgroup v2 memory.max, where one is set
     "somaxconn": 4096,           # /proc/sys/net/core/somaxconn (this network namespace's)
     "boot_id": "5f0c...",        # /proc/sys/kernel/random/boot_id: containers of one machine share it
     "virtualization": "podman",  # systemd-detect-virt: podman, docker, container-other, kvm, none...
     "container": true,           # systemd-detect-virt --container exit status 0
     "vm": "none",                # systemd-detect-virt --vm
     "virtualization_from": "systemd-detect-virt",   # or "files" (/run/.containerenv...) without it
     "venv": "/opt/flaskbench/venv", "venv_python": "3.11.2",        # with --venv
     "packages": {"flask": "3.0.3", "gevent": "24.2.1", ...},         # every distribution there, sorted
     "packages_from": "importlib.metadata",          # or "dist-info" (read from site-packages)
     "clients": {"ab": "This is ApacheBench, Version 2.3 <$Revision: 1903618 $>",
                 "wrk": "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"},  # with --client
     "servers": {"nginx": "nginx version: nginx/1.22.1"},             # with --server
     "errors": []}                # one line per probe that failed (its value is null)

Package names are normalised as pip does (lower case, runs of -_. as one -:
"psycopg2-binary"). Every external command runs with a 10 s timeout; a probe
that fails gives null and a line in `errors`, never a traceback: the exit
status is 0 unless the command line is wrong (2) or --out cannot be written (1).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

from benchhost import clients

SCHEMA = 1
TIMEOUT_S = 10
#: The first line these print is the version (ab -V on stdout, wrk -v on stdout
#: with exit status 1, nginx -v on stderr).
VERSION_ARGS = {"ab": ["-V"], "wrk": ["-v"], "nginx": ["-v"], "uwsgi": ["--version"]}
#: Lines of /proc/cpuinfo naming the CPU, by preference (x86, then ARM and others).
CPU_KEYS = ("model name", "Hardware", "Processor", "cpu model", "cpu", "uarch")
#: Printed by the venv's Python: {name: version} of every distribution it sees.
LIST_PACKAGES = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "out = {}\n"
    "for d in metadata.distributions():\n"
    "    name = d.metadata['Name']\n"
    "    if name:\n"
    "        out[name] = d.version\n"
    "print(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3], 'packages': out}))\n"
)


def normalise(name):
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Probes:
    """Runs the probes; each failure becomes a null value and a line in `errors`."""

    def __init__(self):
        self.errors = []

    def fail(self, what, exc):
        text = str(exc).strip() or type(exc).__name__
        self.errors.append(f"{what}: {text}")
        return None

    def read(self, path, what=None):
        """A file's text, or None (and an error, when `what` names the probe)."""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError as exc:
            return self.fail(what, exc) if what else None

    def run(self, argv, what):
        """(exit status, stdout, stderr) of a command, or None when it could not run or timed out."""
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=TIMEOUT_S, check=False)
        except FileNotFoundError:
            return self.fail(what, f"{argv[0]} not found")
        except subprocess.TimeoutExpired:
            return self.fail(what, f"{' '.join(argv)} took more than {TIMEOUT_S} s")
        except OSError as exc:
            return self.fail(what, exc)
        return done.returncode, done.stdout, done.stderr


def os_name(p):
    text = p.read("/etc/os-release", "os") or p.read("/usr/lib/os-release")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip("\"'") or None
    return p.fail("os", "/etc/os-release has no PRETTY_NAME")


def cpu_model(p):
    text = p.read("/proc/cpuinfo", "cpu_model")
    if text is None:
        return None
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if sep and value and key in CPU_KEYS and key not in found:
            found[key] = value
    for key in CPU_KEYS:
        if key in found:
            return found[key]
    # no name: the vendor and family numbers at least (some VMs, exotic CPUs)
    ids = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("vendor_id", "cpu family", "model", "CPU implementer", "CPU part") \
                and value.strip() and key.strip() not in [i.split("=")[0] for i in ids]:
            ids.append(f"{key.strip()}={value.strip()}")
    return " ".join(ids) if ids else p.fail("cpu_model", "/proc/cpuinfo names no CPU model")


def cores(p):
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError) as exc:
        p.fail("cores", exc)
        return os.cpu_count()


def meminfo_mib(p):
    text = p.read("/proc/meminfo", "mem_total_mib")
    if text is None:
        return None
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
    if not match:
        return p.fail("mem_total_mib", "/proc/meminfo has no MemTotal")
    return round(int(match.group(1)) / 1024)


def cgroup_values(name):
    """A cgroup v2 file's values (but "max") in this process's cgroup and every one above it.

    In a container with its own cgroup namespace the top one is the container's
    own limit (podman --cpus, --memory); the effective limit is the smallest.
    """
    rel = None
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                if line.startswith("0::"):
                    rel = line[3:].strip().strip("/")
    except OSError:
        pass
    dirs = [""]
    while rel:
        dirs.append(rel)
        rel = os.path.dirname(rel)
    values = []
    for sub in dict.fromkeys(dirs):
        try:
            with open(os.path.join("/sys/fs/cgroup", sub, name)) as fh:
                value = fh.read().strip()
        except OSError:
            continue
        if value and not value.startswith("max"):
            values.append(value)
    return values


def cpu_quota():
    """The smallest cgroup CPU quota, in cores (cpu.max "quota period"); None when unlimited."""
    found = []
    for value in cgroup_values("cpu.max"):
        try:
            quota, period = value.split()[:2]
            found.append(int(quota) / int(period))
        except (ValueError, ZeroDivisionError):
            continue
    return round(min(found), 2) if found else None


def mem_limit_mib():
    """The smallest cgroup memory limit (memory.max), MiB; None when unlimited."""
    found = []
    for value in cgroup_values("memory.max"):
        try:
            found.append(int(value))
        except ValueError:
            continue
    return round(min(found) / 1048576) if found else None


def somaxconn(p):
    text = p.read("/proc/sys/net/core/somaxconn", "somaxconn")
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return p.fail("somaxconn", f"not a number: {text.strip()!r}")


def virtualization(p):
    """virtualization, container, vm and where they came from."""
    out = {"virtualization": None, "container": None, "vm": None, "virtualization_from": None}
    detected = p.run(["systemd-detect-virt"], "virtualization")
    if detected is not None:
        # exit status 1 with "none": nothing detected, an answer all the same
        out["virtualization"] = detected[1].strip() or None
        if out["virtualization"] is None:
            p.fail("virtualization", f"systemd-detect-virt printed nothing (exit {detected[0]}): {detected[2].strip()}")
        container = p.run(["systemd-detect-virt", "--container"], "container")
        if container is not None:
            out["container"] = container[0] == 0
        vm = p.run(["systemd-detect-virt", "--vm"], "vm")
        if vm is not None:
            out["vm"] = vm[1].strip() or None
        out["virtualization_from"] = "systemd-detect-virt"
        return out
    # without systemd-detect-virt: the marks container engines leave
    kind = None
    if os.path.exists("/run/.containerenv"):
        kind = "podman"
    elif os.path.exists("/.dockerenv"):
        kind = "docker"
    else:
        environ = p.read("/proc/1/environ") or ""
        for item in environ.split("\0"):
            if item.startswith("container="):
                kind = item.split("=", 1)[1] or "container-other"
    out.update(virtualization=kind, container=kind is not None, virtualization_from="files")
    return out


def site_packages(venv):
    return sorted(glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))
                  + glob.glob(os.path.join(venv, "lib64", "python3*", "site-packages")))


def dist_info_packages(venv):
    """{name: version} from the *.dist-info/METADATA (and *.egg-info/PKG-INFO) files of the venv."""
    found = {}
    for site in site_packages(venv):
        for meta in sorted(glob.glob(os.path.join(site, "*.dist-info", "METADATA"))
                           + glob.glob(os.path.join(site, "*.egg-info", "PKG-INFO"))
                           + glob.glob(os.path.join(site, "*.egg-info"))):
            if os.path.isdir(meta):
                continue
            name = version = None
            try:
                with open(meta, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        key, _, value = line.partition(":")
                        if key == "Name":
                            name = value.strip()
                        elif key == "Version":
                            version = value.strip()
            except OSError:
                continue
            if name and version:
                found.setdefault(normalise(name), version)
    return found


def venv_packages(p, venv):
    """venv, venv_python, packages (sorted by name) and packages_from."""
    venv = os.path.abspath(venv)
    out = {"venv": venv, "venv_python": None, "packages": None, "packages_from": None}
    python = os.path.join(venv, "bin", "python")
    listed = p.run([python, "-I", "-c", LIST_PACKAGES], "packages") if os.path.exists(python) else None
    if listed is not None and listed[0] == 0:
        try:
            data = json.loads(listed[1])
            packages = {normalise(str(k)): str(v) for k, v in data["packages"].items()}
            out.update(venv_python=str(data["python"]), packages=dict(sorted(packages.items())),
                       packages_from="importlib.metadata")
            return out
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            p.fail("packages", f"{python}: unreadable output: {exc}")
    elif listed is not None:
        lines = listed[2].strip().splitlines()
        p.fail("packages", f"{python} exited {listed[0]}: {lines[-1] if lines else ''}")
    elif not os.path.exists(python):
        p.fail("packages", f"{python} not found")
    packages = dist_info_packages(venv)
    if packages:
        out.update(packages=dict(sorted(packages.items())), packages_from="dist-info")
        p.errors.append(f"packages: read from {venv}'s dist-info files instead")
    else:
        p.fail("packages", f"no site-packages with distributions under {venv}")
    return out


def version_line(p, command, what):
    """The first non-empty line `command --version-flag` prints (stdout, else stderr), or None."""
    argv = [command] + VERSION_ARGS.get(os.path.basename(command), ["--version"])
    done = p.run(argv, what)
    if done is None:
        return None
    for stream in (done[1], done[2]):
        for line in stream.splitlines():
            if line.strip():
                return line.strip()
    return p.fail(what, f"{' '.join(argv)} printed nothing (exit {done[0]})")


def describe(venv=None, clients=(), servers=()):
    """The host's description (see the module docstring)."""
    p = Probes()
    uname = os.uname()
    info = {
        "schema": SCHEMA,
        "hostname": uname.nodename,
        "kernel": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "os": os_name(p),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "cpu_model": cpu_model(p),
        "cores": cores(p),
        "cpu_count": os.cpu_count(),
        "cpu_quota_cores": cpu_quota(),
        "mem_total_mib": meminfo_mib(p),
        "mem_limit_mib": mem_limit_mib(),
        "somaxconn": somaxconn(p),
        "boot_id": (p.read("/proc/sys/kernel/random/boot_id") or "").strip() or None,
    }
    info.update(virtualization(p))
    if venv:
        info.update(venv_packages(p, venv))
    if clients:
        info["clients"] = {c: version_line(p, c, f"clients.{c}") for c in dict.fromkeys(clients)}
    if servers:
        info["servers"] = {s: version_line(p, s, f"servers.{s}") for s in dict.fromkeys(servers)}
    info["errors"] = p.errors
    return info


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bench-env.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", help="a virtualenv whose packages to list (the app's: /opt/flaskbench/venv)")
    parser.add_argument("--client", action="append", default=[], metavar="COMMAND",
                        help="a load client whose version to report (ab, wrk); repeatable")
    parser.add_argument("--clients", action="store_true",
                        help="report the version of every registered client's command (benchhost.clients' "
                             "Client.binary: ab and wrk), after the --client ones")
    parser.add_argument("--server", action="append", default=[], metavar="COMMAND",
                        help="a server binary outside the venv whose version to report (nginx); repeatable")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    wanted = args.client + (clients.binaries() if args.clients else [])
    text = json.dumps(describe(args.venv, wanted, args.server), indent=2) + "\n"
    if args.out:
        try:
            write_atomically(args.out, text)
        except OSError as exc:
            print(f"benchhost.env: {args.out}: {exc}", file=sys.stderr)
            return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
