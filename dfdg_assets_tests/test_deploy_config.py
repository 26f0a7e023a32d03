"""The shipped deployment files parse and name only settings the installed Dagster (and the
official Helm chart, via a key list from its values.schema.json) knows."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from importlib.metadata import version
from pathlib import Path

import click
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config, dagster_instance_config_schema
from dagster._core.workspace.config_schema import ensure_workspace_config

from dfdg_assets.orchestration import event_log
from dfdg_assets.orchestration.instance import ENV_POSTGRES_URL, instance_config, instance_yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
HELM_KEYS = json.loads(
    (Path(__file__).parent / "fixtures" / "dagster_helm_values_keys.json").read_text()
)


def validated(tmp_path: Path, text: str) -> dict:
    """The instance config as Dagster's own loader validates it (schema and storage rules)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(text)
    cfg, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    return dict(cfg)


def test_shipped_instance_config_is_valid_and_equals_the_generated_one(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_POSTGRES_URL, "postgresql://dfdg@127.0.0.1:5432/dagster")
    text = (DEPLOY / "dagster.yaml").read_text()
    cfg = validated(tmp_path, text)
    assert cfg["storage"] == {"postgres": {"postgres_url": {"env": ENV_POSTGRES_URL}}}
    assert cfg["run_monitoring"]["enabled"] is True
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"
    # the shipped file is exactly what `dfdg instance` writes when DFDG_POSTGRES_URL is set
    assert yaml.safe_load(text) == instance_config(postgres=True)
    assert "://" not in text  # no URL, so no password, in the file


@pytest.mark.parametrize("postgres", [True, False], ids=["postgres", "sqlite"])
def test_generated_instance_config_is_valid(tmp_path, postgres):
    env = {ENV_POSTGRES_URL: "postgresql://u@h/db"} if postgres else {}
    home = tmp_path / "home"
    cfg = validated(tmp_path, instance_yaml(env, home))
    assert ("storage" in cfg) is postgres  # unset: Dagster's embedded SQLite default
    # SQLite: the event log that keeps its connections, in Dagster's own folder for it
    if postgres:
        assert "event_log_storage" not in cfg
    else:
        events = cfg["event_log_storage"]
        assert (events["module"], events["class"]) == (event_log.MODULE, event_log.CLASS)
        assert events["config"]["base_dir"] == f"{home.absolute()}/history/runs/"
    limits = cfg["run_coordinator"]["config"]["tag_concurrency_limits"]
    from dfdg_assets.orchestration.jobs import WRITER_TAG

    assert limits == [{"key": k, "value": v, "limit": 1} for k, v in WRITER_TAG.items()]


def test_workspace_is_valid_and_matches_the_code_server_port():
    ws = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    ensure_workspace_config(ws, str(DEPLOY / "workspace.yaml"))
    (server,) = [e["grpc_server"] for e in ws["load_from"]]
    assert server["location_name"] == "dfdg"
    for cmd in service_commands():
        if cmd[:2] == ["dagster", "code-server"]:
            assert cmd[cmd.index("-p") + 1] == str(server["port"])


def service_commands() -> list[list[str]]:
    """Every command line of the Procfile and the systemd units (program name without path)."""
    cmds = []
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            cmds.append(shlex.split(line.split(":", 1)[1]))
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        (exec_start,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.M)
        cmds.append(shlex.split(exec_start))
    for cmd in cmds:
        cmd[0] = Path(cmd[0]).name
        for i, arg in enumerate(cmd):  # the install folder (/srv/dfdg) or the repository root
            if arg.startswith(("/srv/dfdg/deploy/", "deploy/")):
                cmd[i] = str(DEPLOY / arg.split("deploy/", 1)[1])
    return cmds


def _click_command(cmd: list[str]) -> tuple[click.Command, list[str]]:
    from dagster._cli import cli as dagster_cli
    from dagster._daemon.cli import create_dagster_daemon_cli
    from dagster_webserver.cli import create_dagster_webserver_cli

    roots = {
        "dagster": dagster_cli,
        "dagster-daemon": create_dagster_daemon_cli(),
        "dagster-webserver": create_dagster_webserver_cli(),
    }
    command, args = roots[cmd[0]], cmd[1:]
    while isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"unknown subcommand {args[0]!r} in {cmd}"
        command, args = sub, args[1:]
    return command, args


def test_service_commands_use_only_options_the_installed_dagster_knows():
    cmds = service_commands()
    programs = sorted({" ".join(c[:2]) if c[0] != "dagster-webserver" else c[0] for c in cmds})
    assert programs == ["dagster code-server", "dagster-daemon run", "dagster-webserver"]
    assert any("--read-only" in c for c in cmds)  # a viewer webserver
    for cmd in cmds:
        command, args = _click_command(cmd)
        command.make_context(cmd[0], list(args))  # raises on an unknown option or a bad value


def _walk(value, path: str, out: list[tuple[str, object]]) -> None:
    out.append((path, value))
    if path in HELM_KEYS["opaque"]:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{path}[]", out)


def test_helm_values_name_only_chart_settings():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    nodes: list[tuple[str, object]] = []
    _walk(values, "", nodes)
    checked = 0
    for path, value in nodes:
        if isinstance(value, dict) and path not in HELM_KEYS["opaque"]:
            assert path in HELM_KEYS["keys"], f"{path!r}: not in the key list of the chart"
            unknown = set(value) - set(HELM_KEYS["keys"][path])
            assert not unknown, f"{path}: unknown chart settings {sorted(unknown)}"
            checked += 1
        if path in HELM_KEYS["enums"]:
            assert value in HELM_KEYS["enums"][path], f"{path}: {value!r}"
    assert checked >= 10
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert (
        values["postgresql"]["enabled"] is False
        and values["generatePostgresqlPasswordSecret"] is False
    )
    deployment = values["dagster-user-deployments"]["deployments"][0]
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    run_mounts = {
        m["mountPath"] for m in values["runLauncher"]["config"]["k8sRunLauncher"]["volumeMounts"]
    }
    assert mounts == run_mounts == {"/data"}  # code server and run pods share the warehouse root
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert limits["tagConcurrencyLimits"] == [{"key": "dfdg/skriver", "value": "ja", "limit": 1}]


def test_helm_run_monitoring_names_instance_settings():
    """The chart passes runMonitoring into the instance's run_monitoring (camelCase there)."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    known = set(dagster_instance_config_schema()["run_monitoring"].config_type.fields)
    for path, section in HELM_KEYS["free_form_instance_sections"].items():
        node = values
        for part in path.split("."):
            node = node[part]
        snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower() for k in node}
        assert snake <= known, f"{path}: {sorted(snake - known)} not in {section}"


def test_pins_match_dagster_and_the_image():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(d.split("==") for d in deps if "==" in d)
    assert pins["dagster"] == version("dagster") == pins["dagster-webserver"]
    assert pins["dagster-postgres"] == version("dagster-postgres")
    # dagster 1.X.Y goes with the libraries 0.(X+16).Y
    major, minor, patch = pins["dagster"].split(".")
    assert pins["dagster-postgres"] == f"0.{int(minor) + 16}.{patch}"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f'"dagster-k8s=={pins["dagster-postgres"]}"' in dockerfile


def test_env_example_names_what_the_product_reads():
    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "dfdg.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"DFDG_DATA_ROOT", "DAGSTER_HOME", ENV_POSTGRES_URL} <= names
