"""The production docker-compose.yml resolves and wires the services the way DESIGN.md says.

These tests need no Docker engine: they run `docker-compose config`, which interpolates and
validates the file, and inspect the YAML it resolves to. The validator is the Debian package
`docker-compose` (1.29); when Docker Compose v2 (`docker compose`) is also installed, the file
is validated with it too.

    cd /work/main && python -m pytest tests/deploy --noconftest -q
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
MODELS_OVERLAY = REPO / "deploy" / "compose.models.yml"
DYNAMIC_CONFIG = REPO / "deploy" / "temporal" / "dynamicconfig" / "postflow.yaml"
DUMMY_KEY = "test-master-key-not-secret"

APP_SERVICES = ("api", "worker", "ingress")
IMAGE_SERVICES = (*APP_SERVICES, "migrate")  # everything built from ./Dockerfile
INFRA_SERVICES = ("postgres", "temporal", "temporal-ui", "chroma")


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not on PATH. These tests validate docker-compose.yml with it: "
            "install the Debian package `docker-compose` (apt-get install -y docker-compose).",
            pytrace=False,
        )
    return exe


def _compose_v2() -> list[str] | None:
    """`docker compose` (v2 plugin) when this machine has it, else None."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(  # noqa: S603 - resolved docker binary, fixed arguments
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return [docker, "compose"] if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Stands in for the repository's .env, which on a developer machine may hold dev settings
    # (or a real master key) and would otherwise leak into the interpolation.
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("")
    return path


def _config(
    env_file: Path,
    *args: str,
    command: list[str] | None = None,
    files: tuple[Path, ...] = (COMPOSE_FILE,),
    master_key: str | None = DUMMY_KEY,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTFLOW_", "COMPOSE_"))}
    if master_key is not None:
        env["POSTFLOW_MASTER_KEY"] = master_key
    env.update(extra_env or {})
    argv = list(command or [_docker_compose()])
    for f in files:
        argv += ["-f", str(f)]
    argv += ["--project-directory", str(REPO), "--env-file", str(env_file), "config", *args]
    return subprocess.run(  # noqa: S603 - resolved compose binary, our own arguments
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def resolved(empty_env_file: Path) -> dict:
    result = _config(empty_env_file)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def services(resolved: dict) -> dict:
    return resolved["services"]


def _volume_pairs(service: dict) -> set[tuple[str, str]]:
    """(source, target) of each mount, from v1 short strings or v2 long-form dicts."""
    pairs = set()
    for vol in service.get("volumes", []):
        if isinstance(vol, str):
            source, target = vol.split(":")[:2]
        else:
            source, target = vol.get("source", ""), vol["target"]
        pairs.add((source, target))
    return pairs


# --- the validator -------------------------------------------------------------------------


def test_compose_file_validates_with_docker_compose(empty_env_file: Path) -> None:
    result = _config(empty_env_file, "-q")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"


def test_compose_file_validates_with_compose_v2_when_installed(empty_env_file: Path) -> None:
    v2 = _compose_v2()
    if v2 is None:
        # Not a skip: the Debian validator above is the required check; v2 is extra coverage.
        return
    result = _config(empty_env_file, "-q", command=v2)
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"


def test_master_key_is_required(empty_env_file: Path) -> None:
    result = _config(empty_env_file, "-q", master_key=None)
    assert result.returncode != 0, "compose must refuse to run without POSTFLOW_MASTER_KEY"
    assert "POSTFLOW_MASTER_KEY" in result.stderr


def test_empty_master_key_is_rejected(empty_env_file: Path) -> None:
    # `${VAR:?}` also rejects a set-but-empty value.
    result = _config(empty_env_file, "-q", master_key="")
    assert result.returncode != 0


# --- the Postflow image and its three commands ---------------------------------------------


def test_expected_services(services: dict) -> None:
    assert set(services) == {*IMAGE_SERVICES, *INFRA_SERVICES}


def test_app_services_share_one_image_and_build(services: dict) -> None:
    images = {services[name].get("image") for name in IMAGE_SERVICES}
    assert len(images) == 1 and None not in images, images
    builds = [services[name].get("build") for name in IMAGE_SERVICES]
    assert all(b == builds[0] for b in builds), builds
    assert Path(builds[0]["context"]).resolve() == REPO
    assert builds[0].get("dockerfile", "Dockerfile") == "Dockerfile"


def test_each_service_runs_its_command(services: dict) -> None:
    for name in IMAGE_SERVICES:
        assert services[name]["command"] == ["python", "-m", "commands", name]


def test_app_services_can_scale(services: dict) -> None:
    for name in APP_SERVICES:
        assert "container_name" not in services[name], f"{name} must be able to run N replicas"


def test_every_long_running_service_has_a_healthcheck(services: dict) -> None:
    for name, svc in services.items():
        if name == "migrate":
            continue
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"] and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check}"


def test_app_healthchecks(services: dict) -> None:
    api = services["api"]["healthcheck"]["test"]
    assert api[:3] == ["CMD", "python", "-c"] and "http://127.0.0.1:8000/health" in api[3]
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "commands",
        "healthcheck",
        "worker",
    ]
    ingress = services["ingress"]["healthcheck"]["test"]
    assert ingress[:3] == ["CMD", "python", "-c"]
    assert "POSTFLOW_SMTP_PORT" in ingress[3] and "220" in ingress[3]


def test_app_services_wait_for_migrate_and_infrastructure(services: dict) -> None:
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["temporal"]["condition"] == "service_healthy", name
    for name in ("api", "worker"):  # both embed and query the vector index
        assert services[name]["depends_on"]["chroma"]["condition"] == "service_healthy"


def test_migrate_is_one_shot_after_postgres(services: dict) -> None:
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert str(migrate.get("restart", "no")) == "no", "a restarting migrate never 'completes'"
    assert "ports" not in migrate


def test_long_running_services_restart(services: dict) -> None:
    for name, svc in services.items():
        if name != "migrate":
            assert svc.get("restart") == "unless-stopped", name


def test_temporal_and_ui_depend_on_healthy_backends(services: dict) -> None:
    assert services["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_blob_volume_is_shared(resolved: dict, services: dict) -> None:
    for name in APP_SERVICES:
        assert ("postflow-data", "/data") in _volume_pairs(services[name]), name
    assert ("postgres-data", "/var/lib/postgresql/data") in _volume_pairs(services["postgres"])
    assert ("chroma-data", "/data") in _volume_pairs(services["chroma"])
    assert {"postflow-data", "postgres-data", "chroma-data"} <= set(resolved["volumes"])


def test_settings_wiring(services: dict) -> None:
    for name in IMAGE_SERVICES:
        env = services[name]["environment"]
        assert env["POSTFLOW_MASTER_KEY"] == DUMMY_KEY, name
        assert env["POSTFLOW_DATABASE_URL"].startswith("postgresql+psycopg://postflow:")
        assert env["POSTFLOW_DATABASE_URL"].endswith("@postgres:5432/postflow")
        assert env["POSTFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["POSTFLOW_TEMPORAL_NAMESPACE"] == "default"
        assert env["POSTFLOW_CHROMA_URL"] == "http://chroma:8000"
        assert env["POSTFLOW_DATA_DIR"] == "/data"
        assert env["POSTFLOW_API_HOST"] == "0.0.0.0"  # noqa: S104
        assert str(env["POSTFLOW_API_PORT"]) == "8000"
        assert env["POSTFLOW_SMTP_HOST"] == "0.0.0.0"  # noqa: S104
        assert str(env["POSTFLOW_SMTP_PORT"]) == "2525"


def test_published_ports(services: dict) -> None:
    def targets(svc: dict) -> set[int]:
        out = set()
        for p in svc.get("ports", []):
            target = p["target"] if isinstance(p, dict) else str(p).split(":")[-1].split("/")[0]
            out.add(int(target))
        return out

    assert targets(services["api"]) == {8000}
    assert targets(services["ingress"]) == {2525}
    assert targets(services["temporal-ui"]) == {8080}
    for name in ("postgres", "temporal", "chroma", "worker", "migrate"):
        assert not services[name].get("ports"), f"{name} must not be published"


def test_infrastructure_images_are_pinned(services: dict) -> None:
    for name in INFRA_SERVICES:
        image = services[name]["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name} image {image!r} is not pinned"
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:1.")
    assert services["chroma"]["image"].startswith("chromadb/chroma:1.")
    assert services["postgres"]["image"] == "postgres:16"


def test_temporal_uses_the_shared_postgres_and_our_dynamic_config(services: dict) -> None:
    env = services["temporal"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["DYNAMIC_CONFIG_FILE_PATH"] == "config/dynamicconfig/postflow.yaml"
    mounts = _volume_pairs(services["temporal"])
    assert (str(DYNAMIC_CONFIG.parent), "/etc/temporal/config/dynamicconfig") in mounts
    config = yaml.safe_load(DYNAMIC_CONFIG.read_text())
    assert isinstance(config, dict) and config
    for key, values in config.items():
        assert isinstance(values, list) and all("value" in v for v in values), key


def test_models_overlay_mounts_the_embedding_model(empty_env_file: Path) -> None:
    result = _config(
        empty_env_file,
        files=(COMPOSE_FILE, MODELS_OVERLAY),
        extra_env={"POSTFLOW_MODELS_DIR": "/srv/postflow/models"},
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("api", "worker"):
        assert services[name]["environment"]["POSTFLOW_EMBEDDING_MODEL_DIR"] == "/models"
        mounts = _volume_pairs(services[name])
        assert ("/srv/postflow/models", "/models") in mounts
        assert ("postflow-data", "/data") in mounts, "the overlay must add, not replace, mounts"
    missing = _config(empty_env_file, "-q", files=(COMPOSE_FILE, MODELS_OVERLAY))
    assert missing.returncode != 0 and "POSTFLOW_MODELS_DIR" in missing.stderr


# --- Dockerfile and .dockerignore ----------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_builds_a_non_root_python_311_image() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for op, rest in instructions if op == "FROM"]
    assert froms == ["python:3.11-slim"]
    runs = " ".join(rest for op, rest in instructions if op == "RUN")
    assert "pip install --no-cache-dir ." in runs
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    envs = " ".join(rest for op, rest in instructions if op == "ENV")
    for setting in (
        "LITELLM_LOCAL_MODEL_COST_MAP=True",
        "ORT_DISABLE_TELEMETRY=1",
        "PYTHONUNBUFFERED=1",
    ):
        assert setting in envs, setting
    exposed = " ".join(rest for op, rest in instructions if op == "EXPOSE").split()
    assert {"8000", "2525", "25"} <= set(exposed)


def test_dockerignore_keeps_secrets_out_and_build_inputs_in() -> None:
    patterns = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".env", ".venv", "data"} <= patterns
    needed = {
        "pyproject.toml",
        "README.md",
        "settings.py",
        "worker.py",
        "temporal_client.py",
        "api",
        "commands",
        "store",
        "workflows",
        "activities",
        "ingress",
        "migrations",
    }
    assert not needed & patterns, needed & patterns
    assert not any(p in ("*", "*.md", "*.py", "*.toml", "**") for p in patterns)
