"""A throwaway PostgreSQL cluster with pg_stat_statements loaded, for bench/pgprofile.py.

pg_stat_statements needs `shared_preload_libraries`, i.e. a server restart: never do that to a shared
server. This starts a private one instead (initdb in a temporary directory, a free loopback port, its
own socket directory), yields a `postgresql://` URL to a database in it (its role is a superuser, to reset
the statistics: the cluster is thrown away), and stops and removes it at the end. Run as root, the server
runs as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager

from harness.live import free_port

USER, PASSWORD, DATABASE = "ketang_bench", "ketang_bench", "ketang_bench"


def _bin(name: str) -> str:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL's server package")
    return found if isinstance(found, str) else found[0]


def _as_owner(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)


@contextmanager
def throwaway_cluster():
    """Start a private PostgreSQL with pg_stat_statements (planning tracked too); yield its URL."""
    work = tempfile.mkdtemp(prefix="ketang-pg-")
    data, sockets, port = os.path.join(work, "data"), os.path.join(work, "run"), free_port()
    os.mkdir(sockets)
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(sockets, "postgres")
    _as_owner([_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
    settings = ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track_planning=on",
                "-c", "pg_stat_statements.track=all", "-c", "fsync=off", "-c", f"unix_socket_directories={sockets}",
                "-c", "listen_addresses=127.0.0.1", "-p", str(port)]
    _as_owner([_bin("pg_ctl"), "-D", data, "-l", os.path.join(work, "log"), "-w", "-o", " ".join(settings), "start"])
    try:
        psql = [_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c"]
        for sql in (f"CREATE ROLE {USER} SUPERUSER LOGIN PASSWORD '{PASSWORD}'", f"CREATE DATABASE {DATABASE} OWNER {USER}"):
            _as_owner([*psql, sql])
        _as_owner([*psql[:-1], "-d", DATABASE, "-c", "CREATE EXTENSION pg_stat_statements"])
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    finally:
        _as_owner([_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"])
        time.sleep(0.1)
        shutil.rmtree(work, ignore_errors=True)
