"""Production shape on PostgreSQL: a throw-away PostgreSQL server from the machine's binaries,
`dfdg load` on it, and the code server, the daemon and the webserver as separate processes
(sensor runs, run records, a run killed part-way marked failed, a correct warehouse after)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.query import query_dfdg, query_ydelsesaktivitet
from dfdg_assets.orchestration.instance import ENV_POSTGRES_URL, write_instance_yaml
from dfdg_assets.orchestration.jobs import BENCHMARK_JOB, INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.measures import DFDG_MEASURES

BIN = Path(sys.executable).parent
MONTHS = ("2019-11", "2019-12", "2020-01")
MEASURES = list(DFDG_MEASURES)


# ------------------------------------------------------------------ a throw-away PostgreSQL


def _pg_bin() -> Path | None:
    for d in [
        Path("/usr/lib/postgresql/15/bin"),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
    ]:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl into a temp folder (as the `postgres` user when we run as root)."""

    user = "dfdg"

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="dfdg-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_other: list[str] = []
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_other = (
                ["runuser", "-u", "postgres", "--"]
                if shutil.which("runuser")
                else ["su", "postgres", "-s", "/bin/sh", "-c"]
            )

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self.as_other and self.as_other[0] == "su":
            import shlex

            cmd = [*self.as_other, shlex.join(cmd)]
        else:
            cmd = [*self.as_other, *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if res.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {res.stdout}\n{res.stderr}")

    def start(self) -> None:
        self._run(
            self.bindir / "initdb", "-D", self.data, "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--no-sync", "--locale=C",
        )  # fmt: skip
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F"
        self._run(
            self.bindir / "pg_ctl",
            "-D",
            self.data,
            "-o",
            opts,
            "-l",
            self.dir / "log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def new_database(self, name: str) -> str:
        import psycopg2

        con = psycopg2.connect(self.url())
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return self.url(name)


@pytest.fixture(scope="module")
def pg():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
            "(.ci/run installs the `postgresql` package)"
        )
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


def pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ the sample and its answers


@pytest.fixture(scope="module")
def sample_inbox(tmp_path_factory) -> Path:
    from dfdg_assets.generate import generate

    inbox = tmp_path_factory.mktemp("sample") / "inbox"
    generate(inbox, kommuner=2, borgere=150, fra=MONTHS[0], til=MONTHS[-1], seed=3)
    assert sorted(p.name for p in inbox.iterdir()) == list(MONTHS)
    return inbox


def answers(root: DataRoot) -> dict:
    """Cube answers plus every catalogue table's row count."""
    out = {
        "dfdg_maaned": query_dfdg(root, MEASURES, ["maaned"]).rows(),
        "dfdg_uge_kategori": query_dfdg(
            root, ["antal_borgere"], ["uge", "visitationskategori"]
        ).rows(),
        "ya_maaned": query_ydelsesaktivitet(root, ["antal_borgere"], ["maaned"]).rows(),
    }
    con = duckdb.connect(str(root.catalogue), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        ]
        names += [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        out["rows"] = {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()
    assert out["dfdg_maaned"], "the cube answered nothing"
    return out


@pytest.fixture(scope="module")
def embedded(sample_inbox, tmp_path_factory) -> dict:
    """The embedded default (SQLite under the data root): answers through 2019-12, then all."""
    root = DataRoot.of(tmp_path_factory.mktemp("embedded") / "data")
    shutil.copytree(sample_inbox, root.inbox)
    assert load(root, through=MONTHS[1], out=lambda _: None).ok
    first = answers(root)
    report = load(root, out=lambda _: None)
    assert report.ok and report.loaded == [MONTHS[2]]
    assert (root.dagster_home / "history" / "runs.db").exists()  # the embedded default
    return {"through_second": first, "all": answers(root), "root": root}


def sqlite_files(root: DataRoot) -> list[str]:
    return sorted(
        str(p.relative_to(root.root))
        for p in root.dagster_home.rglob("*")
        if p.is_file()
        and (p.suffix in {".db", ".sqlite"} or p.name.endswith((".db-wal", ".db-shm")))
    )


def dfdg(*args: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DFDG_DATA_ROOT": str(root), **env},
        timeout=600,
    )


# ------------------------------------------------------------------ (a) dfdg load on PostgreSQL


@pytest.mark.slow
def test_load_on_postgres_keeps_runs_there_and_answers_as_embedded(
    pg, sample_inbox, embedded, tmp_path
):
    url = pg.new_database("dfdg_load")
    root = DataRoot.of(tmp_path / "data")
    shutil.copytree(sample_inbox, root.inbox)

    res = dfdg("load", root=root.root, env={ENV_POSTGRES_URL: url})
    assert res.returncode == 0, res.stderr
    assert f"[3/3] {MONTHS[2]} indlæst" in res.stdout

    runs = pg_rows(url, "select pipeline_name, status from runs order by create_timestamp")
    # three consecutive deliveries: one ingest run for the three, one roll-out, the benchmark
    assert runs == [(INGEST_JOB, "SUCCESS"), (ROLLOUT_JOB, "SUCCESS"), (BENCHMARK_JOB, "SUCCESS")]
    (events,) = pg_rows(url, "select count(*) from event_logs")[0]
    assert events > 50
    (materialized,) = pg_rows(
        url, "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
    )[0]
    assert materialized > 0

    assert sqlite_files(root) == []  # no SQLite run, event or schedule storage under the data root
    cfg = (root.dagster_home / "dagster.yaml").read_text()
    assert f"env: {ENV_POSTGRES_URL}" in cfg and "127.0.0.1" not in cfg  # the URL stays in the env

    assert answers(root) == embedded["all"]
    q = dfdg("query", "dfdg", "--measure", "antal_borgere", "--by", "maaned", "--format", "json",
             root=root.root, env={})  # fmt: skip
    q_embedded = dfdg("query", "dfdg", "--measure", "antal_borgere", "--by", "maaned",
                      "--format", "json", root=embedded["root"].root, env={})  # fmt: skip
    assert q.returncode == 0, q.stderr
    assert json.loads(q.stdout) == json.loads(q_embedded.stdout)

    shown = dfdg(
        "instance", root=root.root, env={ENV_POSTGRES_URL: url.replace("dfdg@", "dfdg:pw@")}
    )
    assert (
        shown.returncode == 0
        and "dfdg:***@127.0.0.1" in shown.stdout
        and ":pw@" not in shown.stdout
    )


# ------------------------------------------------------------------ (b) the services on PostgreSQL


class Services:
    """Code server, daemon, webserver and a read-only viewer as separate processes."""

    def __init__(self, root: DataRoot, url: str, logdir: Path):
        self.root, self.url, self.logdir = root, url, logdir
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(root.dagster_home),
            "DFDG_DATA_ROOT": str(root.root),
            ENV_POSTGRES_URL: url,
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        self.grpc_port, self.web_port, self.viewer_port = _free_port(), _free_port(), _free_port()
        self.workspace = logdir / "workspace.yaml"
        self.workspace.write_text(
            "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
            f"      port: {self.grpc_port}\n      location_name: dfdg\n"
        )
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *cmd: str) -> None:
        log = open(self.logdir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [str(c) for c in cmd],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.logdir,
            start_new_session=True,
        )

    def start_all(self) -> None:
        write_instance_yaml(self.root.dagster_home, self.env)
        self.start(
            "code-server", BIN / "dagster", "code-server", "start", "-h", "127.0.0.1",
            "-p", self.grpc_port, "-m", "dfdg_assets.definitions", "--location-name", "dfdg",
        )  # fmt: skip
        self.wait_for(lambda: self._port_open(self.grpc_port), 120, "code server")
        self.start("daemon", BIN / "dagster-daemon", "run", "-w", self.workspace)
        self.start(
            "webserver", BIN / "dagster-webserver", "-w", self.workspace,
            "-h", "127.0.0.1", "-p", self.web_port,
        )  # fmt: skip
        self.start(
            "viewer", BIN / "dagster-webserver", "-w", self.workspace,
            "-h", "127.0.0.1", "-p", self.viewer_port, "--read-only",
        )  # fmt: skip
        for port in (self.web_port, self.viewer_port):
            self.wait_for(lambda p=port: self._http_ok(p), 120, f"webserver :{port}")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.logdir.glob("*.log"))
        )

    def wait_for(self, cond, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited\n{self.logs()}"
            value = cond()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    @staticmethod
    def _http_ok(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def graphql(self, port: int, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())


SENSOR_SELECTOR = {
    "repositoryLocationName": "dfdg",
    "repositoryName": "__repository__",
    "sensorName": "nye_leveringer",
}
SENSOR_STATE = """query ($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
  __typename ... on Sensor { sensorState { status } } } }"""
START_SENSOR = """mutation ($s: SensorSelector!) { startSensor(sensorSelector: $s) {
  __typename ... on Sensor { sensorState { status } } } }"""
PERMISSIONS = "query { permissions { permission value } }"


def deliver(root: DataRoot, inbox: Path, month: str) -> None:
    """Drop a delivery into the inbox the way an operator's transfer should: copy, then rename."""
    staging = root.root / f".upload-{month}"
    shutil.copytree(inbox / month, staging)
    root.inbox.mkdir(parents=True, exist_ok=True)
    staging.rename(root.inbox / month)


def runs_of(
    instance: dg.DagsterInstance, job: str, month: str | None = None
) -> list[dg.DagsterRun]:
    tags = {"dfdg/levering": month} if month else {}
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=job, tags=tags)))


def run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    import re

    for rec in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        m = re.search(r"Started process for run \(pid: (\d+)\)", rec.message or "")
        if m:
            return int(m.group(1))
    return None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_daemon_webserver_and_code_server_on_postgres(
    pg, sample_inbox, embedded, tmp_path, monkeypatch
):
    url = pg.new_database("dfdg_services")
    root = DataRoot.of(tmp_path / "data")
    root.inbox.mkdir(parents=True)
    logdir = tmp_path / "logs"
    logdir.mkdir()
    services = Services(root, url, logdir)
    monkeypatch.setenv(ENV_POSTGRES_URL, url)
    monkeypatch.setenv("DAGSTER_HOME", str(root.dagster_home))
    try:
        services.start_all()
        instance = dg.DagsterInstance.from_config(str(root.dagster_home))

        # viewers get a read-only webserver: no launching, no sensor switches
        perms = {
            p["permission"]: p["value"]
            for p in services.graphql(services.viewer_port, PERMISSIONS)["data"]["permissions"]
        }
        assert perms["launch_pipeline_execution"] is False
        assert perms["edit_sensor"] is False

        # the sensor runs by default; switch it on through the webserver if it does not
        state = services.graphql(services.web_port, SENSOR_STATE, {"s": SENSOR_SELECTOR})
        if state["data"]["sensorOrError"]["sensorState"]["status"] != "RUNNING":
            started = services.graphql(services.web_port, START_SENSOR, {"s": SENSOR_SELECTOR})
            assert started["data"]["startSensor"]["sensorState"]["status"] == "RUNNING", started

        # two deliveries: one ingest run each, then one rollout run over both months
        for month in MONTHS[:2]:
            deliver(root, sample_inbox, month)

        def rolled_out():
            done = [r for r in runs_of(instance, ROLLOUT_JOB) if r.is_finished]
            return done if done else None

        rollouts = services.wait_for(rolled_out, 420, "the sensor's ingest and rollout runs")
        assert [r.status for r in rollouts] == [dg.DagsterRunStatus.SUCCESS], services.logs()
        for month in MONTHS[:2]:
            assert [r.status for r in runs_of(instance, INGEST_JOB, month)] == [
                dg.DagsterRunStatus.SUCCESS
            ]
        rows = pg_rows(url, "select pipeline_name, status from runs order by create_timestamp")
        assert rows == [(INGEST_JOB, "SUCCESS")] * 2 + [(ROLLOUT_JOB, "SUCCESS")]
        assert sqlite_files(root) == []
        assert answers(root) == embedded["through_second"]

        # the third delivery's ingest run is killed part-way: the run is marked failed
        deliver(root, sample_inbox, MONTHS[2])

        def started_with_pid():
            for r in runs_of(instance, INGEST_JOB, MONTHS[2]):
                if r.status == dg.DagsterRunStatus.STARTED:
                    pid = run_pid(instance, r.run_id)
                    steps = instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)
                    if pid and steps:
                        return r.run_id, pid
            return None

        run_id, pid = services.wait_for(started_with_pid, 300, "the third ingest run to start")
        os.kill(pid, signal.SIGKILL)
        failed = services.wait_for(
            lambda: (r := instance.get_run_by_id(run_id)) and r.is_finished and r, 120,
            "the killed run to be marked finished",
        )  # fmt: skip
        assert failed.status == dg.DagsterRunStatus.FAILURE
        assert pg_rows(url, f"select status from runs where run_id = '{run_id}'") == [("FAILURE",)]
        messages = [e.message or "" for e in instance.all_logs(run_id)]
        crash = [m for m in messages if "was terminated by signal 9 (SIGKILL)" in m]
        assert crash and "Run execution process" in crash[0], [m[:120] for m in messages[-4:]]

        # the operator runs it again: `dfdg load` (daemon stopped, so the sensor does not race)
        services.stop("daemon")
        res = dfdg("load", root=root.root, env={ENV_POSTGRES_URL: url})
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"{MONTHS[2]} indlæst" in res.stdout
        assert answers(root) == embedded["all"]
        statuses = pg_rows(url, "select pipeline_name, status from runs order by create_timestamp")
        assert statuses[-4:] == [
            (INGEST_JOB, "FAILURE"),
            (INGEST_JOB, "SUCCESS"),
            (ROLLOUT_JOB, "SUCCESS"),
            (BENCHMARK_JOB, "SUCCESS"),  # 2020-01: the benchmark's first month
        ]
        assert sqlite_files(root) == []
    finally:
        services.stop_all()
