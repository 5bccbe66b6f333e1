"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temporary directory on a
free loopback port, run as the postgres user when we are root. Fails with a clear message
when it cannot start (never a silent skip)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.services import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise PostgresUnavailable(
        f"{name} introuvable : installez PostgreSQL (apt-get install postgresql) pour lancer "
        "les tests de l'API sur PostgreSQL.")


class Postgres:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="cw-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: hand the directory to the postgres user.
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("runuser introuvable : lancez les tests sans être root.")
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o700)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout)

    def start(self) -> Postgres:
        r = self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb a échoué : {r.stderr.strip()[-500:]}")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        r = self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                      str(self.dir / "log"), "-w", "-t", "60", "start")
        if r.returncode != 0:
            log = (self.dir / "log").read_text(errors="replace")[-800:] if (self.dir / "log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl start a échoué : {r.stderr.strip()} {log}")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
