#!/usr/bin/env python3
"""Pack a directory into a tar named by its content, for one-file transfers.

    flaskbench_pack.py SRC OUT_DIR NAME [--include GLOB ...]

Writes OUT_DIR/NAME-<sha>.tar unless it exists and prints JSON
{"path", "sha", "created"}. <sha> covers the packed files' relative paths and
bytes, so it changes exactly when the content does: targets keep it in a
stamp file and skip the transfer while it matches. The archive itself is
deterministic (sorted entries, mtime 0, root-owned, modes 0644/0755) and
leaves out Python caches. Older archives of the same NAME are removed.

Why: copying a directory file by file costs a module round trip per file
(slow over container connections); one archive is one transfer.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

# Caches, and what a user's app directory may hold beside its code (site.yml -e app=DIR).
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".git", ".venv", "venv", ".mypy_cache", ".ruff_cache", "node_modules"}
EXCLUDED_GLOBS = ("*.pyc", "*.pyo")


def select_files(src: Path, includes: list[str]) -> list[Path]:
    """Files under src to pack (relative, sorted), minus caches."""
    files = []
    for root, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS)
        for name in sorted(names):
            if any(fnmatch.fnmatch(name, g) for g in EXCLUDED_GLOBS):
                continue
            if includes and not any(fnmatch.fnmatch(name, g) for g in includes):
                continue
            files.append((Path(root) / name).relative_to(src))
    return sorted(files)


def content_sha(src: Path, files: list[Path]) -> str:
    """A digest of the files' relative paths and bytes."""
    digest = hashlib.sha256()
    for rel in files:
        digest.update(str(rel).encode() + b"\0")
        digest.update((src / rel).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _info(name: str, *, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_tar(src: Path, files: list[Path], dest: Path) -> None:
    """A deterministic tar of `files`, written atomically (a private temporary
    file, renamed: two runs packing at once, such as two molecule scenarios,
    never write into each other's file)."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    dirs = sorted({p for rel in files for p in rel.parents if str(p) != "."})
    with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
        for rel in dirs:
            tar.addfile(_info(str(rel), is_dir=True))
        for rel in files:
            data = (src / rel).read_bytes()
            tar.addfile(_info(str(rel), is_dir=False, size=len(data)), io.BytesIO(data))
    tmp.chmod(0o644)
    tmp.replace(dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--include", action="append", default=[], help="only file names matching (glob)")
    args = parser.parse_args(argv)

    if not args.src.is_dir():
        parser.error(f"{args.src} is not a directory")
    files = select_files(args.src, args.include)
    if not files:
        parser.error(f"{args.src}: nothing to pack")
    sha = content_sha(args.src, files)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    dest = args.out_dir / f"{args.name}-{sha}.tar"
    created = not dest.exists()
    if created:
        write_tar(args.src, files, dest)
    for old in args.out_dir.glob(f"{args.name}-*.tar"):
        if old != dest and len(old.name) == len(dest.name):
            old.unlink(missing_ok=True)
    json.dump({"path": str(dest), "sha": sha, "created": created}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
