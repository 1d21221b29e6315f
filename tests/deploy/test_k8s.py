"""deploy/k8s: replicas on PostgreSQL, probes that Parley answers, non-root, grace, wiring."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import aiohttp
import pytest

from bot.config import Settings, secret_env_names
from bot.wiring import Runtime
from tests.deploy.files import (
    DEPLOY,
    dockerfile,
    is_parley_command,
    mentioned_setting_names,
    settings_from,
    unknown_names,
    yaml_file,
)

K8S = DEPLOY / "k8s"
MANIFESTS = {path.name: yaml_file(path) for path in sorted(K8S.glob("*.yaml"))}
DEPLOYMENT = MANIFESTS["deployment.yaml"]
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
CONFIG = MANIFESTS["configmap.yaml"]
SECRET = MANIFESTS["secret.example.yaml"]
IMAGE_TARGET = "api"


def _pod_env() -> dict[str, str]:
    """What the container starts with: the image's ENV, then the ConfigMap, then the Secret."""
    return {
        **dockerfile().image_env(IMAGE_TARGET),
        **CONFIG["data"],
        **SECRET["stringData"],
    }


def _probe(name: str) -> dict[str, Any]:
    return CONTAINER[name]["httpGet"]


def test_every_manifest_is_a_kubernetes_object_and_kustomize_lists_them():
    kustomization = MANIFESTS["kustomization.yaml"]
    objects = {name for name in MANIFESTS if name != "kustomization.yaml"}
    for name in objects:
        assert {"apiVersion", "kind", "metadata"} <= set(MANIFESTS[name]), name
    assert set(kustomization["resources"]) == objects - {"secret.example.yaml"}
    (image,) = kustomization["images"]
    assert CONTAINER["image"].split(":")[0] == image["name"]


def test_the_pod_settings_are_valid_and_use_postgresql(monkeypatch: pytest.MonkeyPatch):
    settings = settings_from(_pod_env(), monkeypatch)
    assert DEPLOYMENT["spec"]["replicas"] >= 2
    assert settings.effective_database_url.startswith("postgresql://"), "SQLite is one process"
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == CONTAINER["ports"][0]["containerPort"]
    assert settings.http_port == Settings.model_fields["http_port"].default


def test_secrets_and_the_database_password_live_in_the_secret_only():
    secrets = secret_env_names() | {"PARLEY_DATABASE_URL"}
    assert secrets == set(SECRET["stringData"])
    assert not secrets & set(CONFIG["data"])
    assert SECRET["kind"] == "Secret" and CONFIG["kind"] == "ConfigMap"


def test_the_container_reads_the_configmap_and_the_secret():
    sources = {
        next(iter(source)): next(iter(source.values()))["name"] for source in CONTAINER["envFrom"]
    }
    assert sources == {
        "configMapRef": CONFIG["metadata"]["name"],
        "secretRef": SECRET["metadata"]["name"],
    }
    assert is_parley_command(CONTAINER["args"])


def test_probes_ask_parley_the_right_questions_on_the_named_port():
    (port,) = CONTAINER["ports"]
    assert port == {"name": "http", "containerPort": 8080}
    assert _probe("livenessProbe") == {"path": "/healthz", "port": "http"}
    assert _probe("startupProbe") == {"path": "/healthz", "port": "http"}
    assert _probe("readinessProbe") == {"path": "/readyz", "port": "http"}
    # /readyz pings the store and then the backend, each for up to 5 s (bot.ops).
    assert CONTAINER["readinessProbe"]["timeoutSeconds"] > 2 * 5


async def test_parley_answers_the_probes_and_the_scrape(parley_http: Runtime):
    annotations = DEPLOYMENT["spec"]["template"]["metadata"]["annotations"]
    paths = [_probe(name)["path"] for name in ("livenessProbe", "readinessProbe", "startupProbe")]
    base = f"http://127.0.0.1:{parley_http.ops.port}"
    async with aiohttp.ClientSession() as session:
        for path in paths:
            async with session.get(base + path) as response:
                assert response.status == 200, path
        async with session.get(base + annotations["prometheus.io/path"]) as response:
            assert response.status == 200
            assert "parley_turns_total" in await response.text()
    assert annotations["prometheus.io/port"] == str(CONTAINER["ports"][0]["containerPort"])


def test_kubernetes_waits_longer_than_parley_finishes_answers(monkeypatch: pytest.MonkeyPatch):
    settings = settings_from(CONFIG["data"], monkeypatch)
    command = CONTAINER["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert POD["terminationGracePeriodSeconds"] > pre_stop + settings.shutdown_grace_seconds


def test_runs_as_the_image_user_on_a_read_only_root():
    user = dockerfile().last(IMAGE_TARGET, "USER")
    uid, _, gid = user.partition(":")
    pod, container = POD["securityContext"], CONTAINER["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_every_path_parley_writes_is_a_mounted_volume():
    env = dockerfile().image_env(IMAGE_TARGET)
    mounts = {PurePosixPath(mount["mountPath"]) for mount in CONTAINER["volumeMounts"]}
    volumes = {volume["name"] for volume in POD["volumes"]}
    assert {mount["name"] for mount in CONTAINER["volumeMounts"]} <= volumes
    writable = [env["PARLEY_DATA_DIR"], env["TIKTOKEN_CACHE_DIR"], "/tmp"]
    for path in map(PurePosixPath, writable):
        assert any(path == mount or mount in path.parents for mount in mounts), path


def test_the_service_and_the_budget_select_the_pods():
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = MANIFESTS["service.yaml"]["spec"]
    assert service["selector"].items() <= labels.items()
    (port,) = service["ports"]
    assert port["port"] == 8080 and port["targetPort"] == CONTAINER["ports"][0]["name"]
    budget = MANIFESTS["pdb.yaml"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] < DEPLOYMENT["spec"]["replicas"]


def test_every_name_written_in_the_manifests_is_a_setting():
    assert not unknown_names(set(CONFIG["data"]) | set(SECRET["stringData"]))
    for path in K8S.glob("*.yaml"):
        assert not unknown_names(mentioned_setting_names(path.read_text())), path.name
