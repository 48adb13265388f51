"""A real PostgreSQL (Debian's ``postgresql``) in a temporary cluster, for the tests and the benchmarks.

The server refuses to run as root, so as root the cluster belongs to the ``postgres`` user
the Debian package creates (``runuser``); as anyone else it is the caller's own. It listens
on 127.0.0.1 only, with ``trust`` for local connections, and durability switched off
(``fsync=off``): a test cluster is thrown away. Each test gets a database of its own
(:meth:`Cluster.fresh`), so tests never see each other's rows.

A missing server fails with the package to install; it never skips.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def missing_message() -> str:
    return ("PostgreSQL is not installed: `make test` installs the Debian package postgresql "
            "(apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``initdb`` + ``postgres`` in a temporary directory; :meth:`stop` removes it."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="rightsizer-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        log = self.root / "postgres.log"
        self.proc = subprocess.Popen(
            self._as_owner([str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
                            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                            "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=128MB",
                            "-c", "log_min_messages=warning", "-c", "timezone=UTC"]),
            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self._wait(log)

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else cmd

    def _run(self, cmd: list[str]) -> None:
        out = subprocess.run(self._as_owner(cmd), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr[-2000:]}")

    def _wait(self, log: Path, seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                  capture_output=True).returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start in {seconds:g} s: {log.read_text()[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                             autocommit=True) as conn:
            conn.execute(statement)

    def fresh(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.url(name)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    bindir = _bindir()
    if bindir is None:
        raise FileNotFoundError(missing_message())
    return Cluster(bindir)
