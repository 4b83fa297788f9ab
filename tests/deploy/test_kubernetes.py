"""deploy/kubernetes (kustomize base and production overlay) agrees with Kubernetes' schemas and
with the services' code and settings.

Static checks only: the kustomizations are rendered in Python (tests/deploy/kustomize.py) and
every object is validated offline with ``kubernetes-validate``; Strimzi's KafkaTopic, a custom
resource, against a schema written from Strimzi's documentation. Where ``kubectl`` is
installed, the Python rendering is compared with ``kubectl kustomize``.
"""

from __future__ import annotations

import base64
import importlib
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import ValidationError

from tests.deploy import kustomize
from tests.deploy.settings import known_env
from tests.deploy.strimzi import strimzi_user_names
from vigie_shared import topics
from vigie_shared.kit.kafka_acls import user_of
from vigie_shared.kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("base", "overlays/production")
PRODUCTION = "overlays/production"
NAMESPACE = "vigie"
ENV_PREFIX = "VIGIE_"
UID = 10001
# Oldest Kubernetes minor the manifests are meant for, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
DAY_MS = 24 * 3600 * 1000
# A syntactically valid production secret key for the rendered test copy (never deployed).
TEST_SECRET_KEY = "k8s-test-" + "x" * 40


@dataclass(frozen=True)
class Service:
    name: str  # Kubernetes object name
    package: str
    port: int
    uses_issuer: bool

    @property
    def pyproject(self) -> Path:
        return ROOT / "services" / self.package / "pyproject.toml"

    def settings_class(self) -> type[ServiceSettings]:
        settings: type[ServiceSettings] = importlib.import_module(f"{self.package}.config").Settings
        return settings


SERVICES = (
    Service("sso-gateway", "sso_gateway", 8000, uses_issuer=True),
    Service("dpo-requests", "dpo_requests", 8001, uses_issuer=False),
    Service("audit-log", "audit_log", 8002, uses_issuer=True),
)
MIGRATE_JOB = "vigie-migrate"

each_service = pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
each_overlay = pytest.mark.parametrize("overlay", OVERLAYS)

Obj = dict[str, Any]


# -- rendering ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/kubernetes with the production secrets.env an operator would write."""
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, copy, ignore=shutil.ignore_patterns("secrets.env"))
    production = copy / PRODUCTION
    example = (production / "secrets.env.example").read_text(encoding="utf-8")
    lines = [
        f"VIGIE_SECRET_KEY={TEST_SECRET_KEY}" if line.startswith("VIGIE_SECRET_KEY=") else line
        for line in example.splitlines()
    ]
    (production / "secrets.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def rendered(tree: Path) -> dict[str, list[Obj]]:
    return {overlay: kustomize.render(tree / overlay) for overlay in OVERLAYS}


def _one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def _of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def _workloads(objects: list[Obj]) -> Iterator[Obj]:
    """Deployments and Jobs: everything that runs a Vigie container."""
    return (o for o in objects if o["kind"] in ("Deployment", "Job"))


def _container(workload: Obj) -> Obj:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    container: Obj = containers[0]
    return container


def _string_data(obj: Obj) -> dict[str, str]:
    """A ConfigMap's or Secret's values as strings (Secret ``data`` decoded)."""
    values = {key: str(value) for key, value in (obj.get("data") or {}).items()}
    if obj["kind"] == "Secret":
        values = {
            key: base64.b64decode("".join(value.split())).decode() for key, value in values.items()
        }
        values.update({key: str(value) for key, value in (obj.get("stringData") or {}).items()})
    return values


def _environment(objects: list[Obj], workload: Obj) -> dict[str, str]:
    """The environment the workload's container gets, envFrom sources resolved."""
    container = _container(workload)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        assert set(source) <= {"configMapRef", "secretRef"}, source
        kind, ref = (
            ("Secret", source["secretRef"])
            if "secretRef" in source
            else ("ConfigMap", source["configMapRef"])
        )
        assert not ref.get("optional"), f"{kind} {ref['name']} must not be optional"
        env.update(_string_data(_one(objects, kind, ref["name"])))
    for variable in container.get("env") or []:
        if "valueFrom" in variable:
            # The Secret the Strimzi User Operator writes for a KafkaUser: not rendered here.
            ref = variable["valueFrom"]["secretKeyRef"]
            assert ref["name"] in strimzi_user_names(), ref
            env[variable["name"]] = f"from-secret-{ref['name']}-{ref['key']}"
            continue
        assert "value" in variable, f"only literal env values are resolved here: {variable}"
        env[variable["name"]] = str(variable["value"])
    return env


def _container_port(container: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port]
    assert len(named) == 1, f"no container port named {port!r}"
    return int(named[0])


def _console_script(package: str) -> str:
    """The console script that runs a service: the one pointing at its ``__main__``."""
    pyproject = ROOT / "services" / package / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    own = [name for name, target in scripts.items() if target == f"{package}.__main__:main"]
    assert len(own) == 1, scripts
    return str(own[0])


# -- the renderer itself -----------------------------------------------------------------------


def _normalised(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    result: dict[tuple[str, str], Obj] = {}
    for obj in objects:
        copy = dict(obj)
        if obj["kind"] == "Secret":  # kubectl wraps long base64 lines
            copy.pop("stringData", None)
            copy["data"] = _string_data(obj)
        result[(obj["kind"], obj["metadata"]["name"])] = copy
    return result


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@each_overlay
def test_python_rendering_matches_kubectl_kustomize(
    tree: Path, rendered: dict[str, list[Obj]], overlay: str
) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl
    output = subprocess.run(
        [kubectl, "kustomize", str(tree / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    reference = [doc for doc in yaml.safe_load_all(output) if doc is not None]
    assert _normalised(rendered[overlay]) == _normalised(reference)


def test_renderer_merges_containers_by_name_and_applies_json_patches_and_images(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "app:1", "env": [{"name": "X", "value": "1"}]},
                        {"name": "b", "image": "other:2"},
                    ]
                }
            }
        },
    }
    (base / "web.yaml").write_text(yaml.safe_dump(deployment), encoding="utf-8")
    (base / "kustomization.yaml").write_text("resources: [web.yaml]\n", encoding="utf-8")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["../base"],
                "namespace": "ns",
                "images": [{"name": "app", "newName": "reg/app", "newTag": "9"}],
                "patches": [
                    {
                        "patch": yaml.safe_dump(
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "metadata": {"name": "web"},
                                "spec": {
                                    "template": {
                                        "spec": {
                                            "containers": [
                                                {"name": "a", "env": [{"name": "Y", "value": "2"}]}
                                            ]
                                        }
                                    }
                                },
                            }
                        )
                    },
                    {
                        "target": {"kind": "Deployment"},
                        "patch": "- op: add\n  path: /spec/replicas\n  value: 3\n",
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    (result,) = kustomize.render(overlay)
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["reg/app:9", "other:2"]
    assert containers[0]["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert result["spec"]["replicas"] == 3
    assert result["metadata"]["namespace"] == "ns"


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("namePrefix: x-\n", encoding="utf-8")
    with pytest.raises(kustomize.UnsupportedError):
        kustomize.render(tmp_path)


# -- schemas -----------------------------------------------------------------------------------

# Strimzi's KafkaTopic (kafka.strimzi.io/v1beta2), from its documentation and CRD: a custom
# resource, so kubernetes-validate has no schema for it.
KAFKA_TOPIC_SCHEMA: Obj = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                # A DNS-1123 subdomain; Strimzi's own topic names avoid dots and capitals.
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {
                    "type": "object",
                    "required": ["strimzi.io/cluster"],
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "topicName": {"type": "string", "pattern": "^[a-zA-Z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
                },
            },
        },
    },
}


@each_overlay
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schema(
    rendered: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    errors: list[str] = []
    for obj in rendered[overlay]:
        if obj["apiVersion"].startswith("kafka.strimzi.io/"):
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert not errors, "\n".join(errors)


def test_strict_schema_validation_catches_an_unknown_field(rendered: dict[str, list[Obj]]) -> None:
    deployment = _one(rendered["base"], "Deployment", "sso-gateway")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@each_overlay
def test_kafka_topics_are_valid_strimzi_resources(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    kafka_topics = _of_kind(rendered[overlay], "KafkaTopic")
    assert kafka_topics
    for kafka_topic in kafka_topics:
        jsonschema.validate(kafka_topic, KAFKA_TOPIC_SCHEMA)


@each_overlay
def test_only_known_kinds_are_rendered(rendered: dict[str, list[Obj]], overlay: str) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in rendered[overlay]}
    assert kinds == {
        ("v1", "Namespace"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("policy/v1", "PodDisruptionBudget"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    }


@each_overlay
def test_everything_lives_in_the_vigie_namespace_under_the_restricted_standard(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    namespace = _one(rendered[overlay], "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in rendered[overlay]:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "vigie"


# -- services ----------------------------------------------------------------------------------


@each_overlay
@each_service
def test_every_service_has_deployment_service_pdb_hpa_and_network_policy(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    objects = rendered[overlay]
    for kind in (
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    ):
        _one(objects, kind, service.name)
    assert {d["metadata"]["name"] for d in _of_kind(objects, "Deployment")} == {
        s.name for s in SERVICES
    }


@each_overlay
@each_service
def test_deployment_runs_the_service_console_script_on_its_port(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    deployment = _one(rendered[overlay], "Deployment", service.name)
    container = _container(deployment)
    assert container["command"] == [_console_script(service.package)]
    assert [p["containerPort"] for p in container["ports"]] == [service.port]
    assert service.settings_class().model_fields["http_port"].default == service.port
    env = _environment(rendered[overlay], deployment)
    assert int(env["VIGIE_HTTP_PORT"]) == service.port


@each_overlay
@each_service
def test_probes_hit_readyz_and_healthz_on_the_service_port(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    container = _container(_one(rendered[overlay], "Deployment", service.name))
    expected = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
        "startupProbe": "/healthz",
    }
    for probe_name, path in expected.items():
        probe = container[probe_name]["httpGet"]
        assert probe["path"] == path, probe_name
        assert _container_port(container, probe["port"]) == service.port, probe_name
    # The startup probe leaves time for migrations and waiting for Kafka (60 s).
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 90


@each_overlay
@each_service
def test_service_and_selectors_reach_the_deployment_pods(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    objects = rendered[overlay]
    deployment = _one(objects, "Deployment", service.name)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = _container(deployment)

    def selects(match_labels: dict[str, str]) -> bool:
        return bool(match_labels) and match_labels.items() <= pod_labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    kube_service = _one(objects, "Service", service.name)
    assert selects(kube_service["spec"]["selector"])
    (port,) = kube_service["spec"]["ports"]
    assert _container_port(container, port["targetPort"]) == service.port
    assert selects(
        _one(objects, "PodDisruptionBudget", service.name)["spec"]["selector"]["matchLabels"]
    )
    policy = _one(objects, "NetworkPolicy", service.name)
    assert selects(policy["spec"]["podSelector"]["matchLabels"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    allowed = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert [_container_port(container, p) for p in allowed] == [service.port]


@each_overlay
@each_service
def test_pdb_and_hpa(rendered: dict[str, list[Obj]], overlay: str, service: Service) -> None:
    objects = rendered[overlay]
    assert _one(objects, "PodDisruptionBudget", service.name)["spec"]["minAvailable"] == 1
    hpa = _one(objects, "HorizontalPodAutoscaler", service.name)["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service.name,
    }
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    if overlay == PRODUCTION:
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    else:
        assert hpa["minReplicas"] == 1
        assert hpa["maxReplicas"] >= hpa["minReplicas"]
    # The HPA owns the replica count: a fixed one would be reset by every apply.
    assert "replicas" not in _one(objects, "Deployment", service.name)["spec"]


@each_overlay
@each_service
def test_graceful_shutdown(rendered: dict[str, list[Obj]], overlay: str, service: Service) -> None:
    deployment = _one(rendered[overlay], "Deployment", service.name)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    command = _container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert 0 < int(command[1]) < 30
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# -- every container ---------------------------------------------------------------------------


@each_overlay
def test_containers_run_as_non_root_with_a_read_only_root_and_no_capabilities(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    workloads = list(_workloads(rendered[overlay]))
    assert len(workloads) == len(SERVICES) + 1
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == UID, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["runAsUser"] == UID, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            # A writable /tmp, since the root filesystem is read-only.
            assert "/tmp" in {m["mountPath"] for m in container.get("volumeMounts") or []}, name


@each_overlay
def test_containers_have_resource_requests_and_limits(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for workload in _workloads(rendered[overlay]):
        resources = _container(workload)["resources"]
        for bound in ("requests", "limits"):
            assert set(resources[bound]) == {"cpu", "memory"}, workload["metadata"]["name"]


def test_production_sizes_differ_from_the_base(rendered: dict[str, list[Obj]]) -> None:
    for service in SERVICES:
        base = _container(_one(rendered["base"], "Deployment", service.name))["resources"]
        production = _container(_one(rendered[PRODUCTION], "Deployment", service.name))
        assert production["resources"] != base


@each_overlay
def test_images(rendered: dict[str, list[Obj]], overlay: str, tree: Path) -> None:
    images = {_container(w)["image"] for w in _workloads(rendered[overlay])}
    if overlay == "base":
        assert images == {"vigie:latest"}
        return
    (entry,) = yaml.safe_load((tree / PRODUCTION / "kustomization.yaml").read_text())["images"]
    assert entry["name"] == "vigie"
    assert images == {f"{entry['newName']}:{entry['newTag']}"}
    assert entry["newTag"] != "latest"


# -- configuration -----------------------------------------------------------------------------


@each_overlay
@each_service
def test_service_env_vars_all_map_to_settings_fields(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    env = _environment(rendered[overlay], _one(rendered[overlay], "Deployment", service.name))
    known = known_env(service.package)
    unknown = [key for key in env if key not in known]
    assert not unknown, f"not fields of {service.package}.config.Settings: {unknown}"
    assert all(key.startswith(ENV_PREFIX) for key in env)
    assert env["VIGIE_ENV"] == "production"
    assert env["VIGIE_HTTP_HOST"] == "0.0.0.0"
    assert env["VIGIE_KAFKA_BOOTSTRAP"]
    assert ("VIGIE_ISSUER" in env) is service.uses_issuer


@each_overlay
def test_database_url_and_secret_key_come_from_the_secret_only(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    secret = _string_data(_one(objects, "Secret", "vigie-secrets"))
    assert set(secret) == {"VIGIE_DATABASE_URL", "VIGIE_SECRET_KEY"}
    for config_map in _of_kind(objects, "ConfigMap"):
        assert not set(config_map["data"]) & set(secret), config_map["metadata"]["name"]
    for workload in _workloads(objects):
        sources = _container(workload)["envFrom"]
        assert {"secretRef": {"name": "vigie-secrets"}} in sources


@each_service
def test_production_environment_builds_the_service_settings(
    rendered: dict[str, list[Obj]], service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered[PRODUCTION]
    env = _environment(objects, _one(objects, "Deployment", service.name))
    for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = service.settings_class()()
    assert settings.env == "production"
    assert settings.http_port == service.port
    assert settings.secret_key == TEST_SECRET_KEY
    assert settings.kafka_bootstrap == "vigie-kafka-bootstrap:9092"


@each_service
@each_overlay
def test_service_logs_in_to_kafka_as_its_own_strimzi_user(
    rendered: dict[str, list[Obj]], overlay: str, service: Service
) -> None:
    user = user_of(service.package)
    env = _environment(rendered[overlay], _one(rendered[overlay], "Deployment", service.name))
    assert env["VIGIE_KAFKA_USERNAME"] == user
    assert env["VIGIE_KAFKA_PASSWORD"] == f"from-secret-{user}-password"


def test_base_placeholder_secret_key_is_refused_by_the_services(
    rendered: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered["base"]
    env = _environment(objects, _one(objects, "Deployment", SERVICES[0].name))
    for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="VIGIE_SECRET_KEY"):
        SERVICES[0].settings_class()()


def test_production_secret_comes_from_an_uncommitted_env_file() -> None:
    production = KUBERNETES / PRODUCTION
    kustomization = yaml.safe_load((production / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == "vigie-secrets"
    assert generator["behavior"] == "replace"
    assert generator["envs"] == ["secrets.env"]
    assert "secrets.env" in (production / ".gitignore").read_text().split()
    example = kustomize._parse_env_file(production / "secrets.env.example")
    assert set(example) == {"VIGIE_DATABASE_URL", "VIGIE_SECRET_KEY"}


def test_production_points_at_strimzi_bootstrap(rendered: dict[str, list[Obj]]) -> None:
    config = _one(rendered[PRODUCTION], "ConfigMap", "vigie-config")["data"]
    assert config["VIGIE_KAFKA_BOOTSTRAP"] == "vigie-kafka-bootstrap:9092"


@each_overlay
def test_topics_services_would_create_match_the_declared_ones(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    config = _one(rendered[overlay], "ConfigMap", "vigie-config")["data"]
    for kafka_topic in _of_kind(rendered[overlay], "KafkaTopic"):
        assert kafka_topic["spec"]["partitions"] == int(config["VIGIE_KAFKA_PARTITIONS"])
        assert kafka_topic["spec"]["replicas"] == int(config["VIGIE_KAFKA_REPLICATION"])


# -- migration Job -----------------------------------------------------------------------------


@each_overlay
def test_migration_job_runs_vigie_migrate(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    job = _one(objects, "Job", MIGRATE_JOB)
    assert _container(job)["command"] == ["vigie", "migrate"]
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    scripts = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["vigie"] == "vigie_shared.cli:main"
    env = _environment(objects, job)
    unknown = [
        k for k in env if k.removeprefix(ENV_PREFIX).lower() not in ServiceSettings.model_fields
    ]
    assert not unknown
    assert {"VIGIE_DATABASE_URL", "VIGIE_SECRET_KEY", "VIGIE_ENV"} <= set(env)
    policy = _one(objects, "NetworkPolicy", MIGRATE_JOB)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert not policy["spec"].get("ingress")


# -- Kafka topics ------------------------------------------------------------------------------


def _expected_topics() -> dict[str, int]:
    """Every topic name and its retention in days: events 30, dead letters 90."""
    expected = {name: 30 for name in topics.ALL}
    expected.update({topics.dlq(name): 90 for name in topics.ALL})
    return expected


@each_overlay
def test_every_topic_and_its_dlq_is_a_kafka_topic(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    declared = {t["spec"]["topicName"]: t for t in _of_kind(rendered[overlay], "KafkaTopic")}
    expected = _expected_topics()
    assert set(declared) == set(expected)
    for name, retention_days in expected.items():
        kafka_topic = declared[name]
        assert kafka_topic["metadata"]["name"] == name.replace(".", "-")
        assert kafka_topic["metadata"]["labels"]["strimzi.io/cluster"] == "vigie"
        spec = kafka_topic["spec"]
        assert spec["partitions"] == (6 if overlay == PRODUCTION else 3)
        assert spec["replicas"] == 3
        assert int(spec["config"]["min.insync.replicas"]) == 2
        assert int(spec["config"]["min.insync.replicas"]) < spec["replicas"]
        assert int(spec["config"]["retention.ms"]) == retention_days * DAY_MS
        assert spec["config"]["cleanup.policy"] == "delete"


@each_overlay
def test_migration_job_and_what_it_reads_can_be_applied_alone(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """deploy/README.md applies them first with ``-l 'app.kubernetes.io/component in (...)'``."""
    objects = rendered[overlay]
    selected = {
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"]["labels"].get("app.kubernetes.io/component") in ("config", "migration")
    }
    job = _one(objects, "Job", MIGRATE_JOB)
    assert ("Job", MIGRATE_JOB) in selected
    for source in _container(job)["envFrom"]:
        kind, ref = next(iter(source.items()))
        assert ({"configMapRef": "ConfigMap", "secretRef": "Secret"}[kind], ref["name"]) in selected
    assert not {kind for kind, _ in selected} - {"Job", "ConfigMap", "Secret"}
