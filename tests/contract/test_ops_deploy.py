"""The Kubernetes manifests (deploy/k8s) and the operational parts of docker-compose.yml,
checked without a cluster or Docker: every built-in object against the Kubernetes JSON
schemas (strict: no unknown field), KEDA objects against deploy/schemas/keda, then what
a schema cannot know: each service has its worker and API with probes on /healthz and
/readyz, resources, disruption budgets, autoscaling on the right target and, for the
workers, on exactly their own queues; commands that exist; no real secret."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.common.config import DEFAULT_PORTS, SERVICES
from services.common.messaging import consumers_of
from services.common.service_classes import service_class
from tests.contract.test_deployment_files import command_problems, commands, load_raw

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
KEDA_SCHEMAS = {
    kind: json.loads((ROOT / "deploy" / "schemas" / "keda" / f"{kind.lower()}.json").read_text())
    for kind in ("ScaledObject", "TriggerAuthentication")
}
CONFIG_SOURCES = "".join(
    (ROOT / "services" / path).read_text()
    for path in ("common/config.py", "ops/status.py", "common/logs.py")
)


SECRET_TEMPLATE = "secret.yaml"  # applied by hand, never by `kubectl apply -k`


def load_manifests():
    """{(kind, name): object} of every file the kustomization lists, and the Secret template."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects = {}
    for resource in kustomization["resources"] + [SECRET_TEMPLATE]:
        for document in yaml.safe_load_all((K8S / resource).read_text()):
            if document:
                objects[(document["kind"], document["metadata"]["name"])] = document
    return kustomization, objects


def schema_problems(obj):
    kind, name = obj.get("kind"), obj.get("metadata", {}).get("name")
    if kind in KEDA_SCHEMAS:
        validator = jsonschema.Draft7Validator(KEDA_SCHEMAS[kind])
        return [
            f"{kind}/{name}: /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.utils.SchemaNotFoundError:
        return [f"{kind}/{name}: no schema for {obj.get('apiVersion')} {kind}"]
    except kubernetes_validate.utils.ValidationError as error:
        return [f"{kind}/{name}: /{'/'.join(map(str, error.path))}: {error.message}"]
    return []


def handler_queues(service):
    cls = service_class(service)
    return {f"evt-{c.producer}-{c.type}--{service}.{m}" for m, c in consumers_of(cls)}


def container_of(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def workload_problems(objects, service, role):
    name, found = f"{service}-{role}", []
    deployment = objects.get(("Deployment", name))
    if deployment is None:
        return [f"{name}: no Deployment"]
    pod = deployment["spec"]["template"]
    if deployment["spec"]["selector"]["matchLabels"].items() - pod["metadata"]["labels"].items():
        found.append(f"{name}: the selector does not match the pod's labels")
    container = container_of(deployment)
    found += [
        f"{name}: {p}" for step in commands(container["command"]) for p in command_problems(step)
    ]
    port = DEFAULT_PORTS[service] if role == "api" else 9100
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or ports.get(get.get("port"), get.get("port")) != port:
            found.append(f"{name}: {probe} must GET {path} on port {port}")
    if role == "api" and f"0.0.0.0:{port}" not in container["command"]:
        found.append(f"{name}: gunicorn must bind 0.0.0.0:{port}")
    if role == "worker" and {
        "name": "SHEGONG_METRICS_PORT",
        "value": str(port),
    } not in container.get("env", []):
        found.append(f"{name}: SHEGONG_METRICS_PORT must be {port}")
    resources = container.get("resources", {})
    if not all(
        resources.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")
    ):
        found.append(f"{name}: needs cpu and memory requests and limits")
    refs = {
        ref.get("configMapRef", ref.get("secretRef", {})).get("name")
        for ref in container.get("envFrom", [])
    }
    if (
        refs != {"shegong-config", "shegong-secrets"}
        or ("ConfigMap", "shegong-config") not in objects
        or ("Secret", "shegong-secrets") not in objects
    ):
        found.append(f"{name}: must take its environment from shegong-config and shegong-secrets")
    if pod["spec"].get("securityContext", {}).get("runAsNonRoot") is not True:
        found.append(f"{name}: must run as non-root")
    service_obj = objects.get(("Service", name))
    if (
        service_obj is None
        or service_obj["spec"]["selector"].items() - pod["metadata"]["labels"].items()
    ):
        found.append(f"{name}: needs a Service selecting its pods")
    pdb = objects.get(("PodDisruptionBudget", name))
    if (
        pdb is None
        or pdb["spec"]["selector"]["matchLabels"] != deployment["spec"]["selector"]["matchLabels"]
    ):
        found.append(f"{name}: needs a PodDisruptionBudget on its pods")
    if role == "api":
        hpa = objects.get(("HorizontalPodAutoscaler", name))
        if hpa is None or hpa["spec"]["scaleTargetRef"] != {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }:
            found.append(f"{name}: needs a HorizontalPodAutoscaler on its Deployment")
    else:
        found += scaled_object_problems(objects, service, name)
    return found


def scaled_object_problems(objects, service, name):
    scaled = objects.get(("ScaledObject", name))
    if scaled is None or scaled["spec"]["scaleTargetRef"]["name"] != name:
        return [f"{name}: needs a KEDA ScaledObject on its Deployment"]
    found = []
    queues = {q for s in SERVICES for q in handler_queues(s)}
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        if trigger["type"] != "rabbitmq" or meta.get("mode") != "QueueLength":
            found.append(f"{name}: scale on the RabbitMQ queue length")
            continue
        if meta.get("useRegex") == "true":
            matched = {q for q in queues if re.search(meta["queueName"], q)}
        else:
            matched = {meta["queueName"]} & queues
        if matched != handler_queues(service):
            found.append(
                f"{name}: the trigger must cover exactly its handler queues, "
                f"covers {sorted(matched)}"
            )
        auth = trigger.get("authenticationRef", {}).get("name")
        if ("TriggerAuthentication", auth) not in objects:
            found.append(f"{name}: unknown TriggerAuthentication {auth!r}")
    return found


def problems(kustomization, objects):
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", SECRET_TEMPLATE}
    found = [f"kustomization: {f} is not listed" for f in sorted(on_disk - listed)]
    if SECRET_TEMPLATE in listed:
        found.append("kustomization: the Secret template would overwrite the real Secrets")
    for obj in objects.values():
        found += schema_problems(obj)
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != "shegong":
            found.append(f"{obj['kind']}/{obj['metadata']['name']}: namespace must be shegong")
    for service in SERVICES:
        for role in ("api", "worker"):
            found += workload_problems(objects, service, role)
    config = objects.get(("ConfigMap", "shegong-config"), {}).get("data", {})
    for service in SERVICES:
        for key, url in (
            (f"{service.upper()}_URL", f"http://{service}-api:{DEFAULT_PORTS[service]}"),
            (f"{service.upper()}_METRICS_URL", f"http://{service}-worker:9100"),
        ):
            if config.get(key) != url:
                found.append(f"ConfigMap: {key} must be {url} (make status finds it there)")
    # per-service variables are read as f"{name.upper()}_..."
    found += [
        f"ConfigMap: {key} is read by no code"
        for key in config
        if re.sub(r"^(INTAKE|CASEWORK|NOTIFICATIONS|REPORTING)_", "{name.upper()}_", key)
        not in CONFIG_SOURCES
    ]
    for (kind, name), obj in objects.items():
        if kind == "Secret":
            for key, value in obj.get("stringData", {}).items():
                if value and "REPLACE-ME" not in value:
                    found.append(f"Secret/{name}: {key} holds a value; only placeholders here")
    job = objects.get(("Job", "shegong-init"))
    steps = commands(container_of(job)["command"]) if job else []
    if [s[2] for s in steps] != [
        "services.ops.definitions",
        "services.ops.bootstrap",
        "services.casework.seed",
    ]:
        found.append("Job/shegong-init: must import the definitions, declare, seed")
    return found


def test_kubernetes_manifests_are_valid_and_complete():
    assert problems(*load_manifests()) == []


def edit(objects, kind, name):
    return objects[(kind, name)]


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda o: edit(o, "Deployment", "casework-worker")["spec"].update(replicass=2),
            "Deployment/casework-worker: /spec: Additional properties",
        ),
        (
            lambda o: container_of(edit(o, "Deployment", "intake-api"))["readinessProbe"][
                "httpGet"
            ].update(path="/healthz"),
            "intake-api: readinessProbe must GET /readyz",
        ),
        (
            lambda o: container_of(edit(o, "Deployment", "reporting-worker")).pop("resources"),
            "reporting-worker: needs cpu and memory requests and limits",
        ),
        (
            lambda o: o.pop(("PodDisruptionBudget", "notifications-api")),
            "notifications-api: needs a PodDisruptionBudget",
        ),
        (
            lambda o: edit(o, "HorizontalPodAutoscaler", "casework-api")["spec"][
                "scaleTargetRef"
            ].update(name="casework-worker"),
            "casework-api: needs a HorizontalPodAutoscaler",
        ),
        (
            lambda o: edit(o, "ScaledObject", "intake-worker")["spec"]["triggers"][0][
                "metadata"
            ].update(queueName="^evt-.*$"),
            "intake-worker: the trigger must cover exactly",
        ),
        (
            lambda o: edit(o, "ScaledObject", "intake-worker")["spec"]["triggers"][0][
                "metadata"
            ].update(mode="QueueLenght"),
            "ScaledObject/intake-worker: /spec/triggers/0",
        ),
        (
            lambda o: container_of(edit(o, "Deployment", "casework-worker")).update(
                command=["python", "-m", "services.common.runnr", "casework"]
            ),
            "casework-worker: no module services.common.runnr",
        ),
        (
            lambda o: edit(o, "Secret", "shegong-secrets")["stringData"].update(
                SHEGONG_TOKEN_SECRET="hunter2"
            ),
            "Secret/shegong-secrets: SHEGONG_TOKEN_SECRET",
        ),
        (
            lambda o: edit(o, "ConfigMap", "shegong-config")["data"].update(SHEGONG_TYPO="1"),
            "ConfigMap: SHEGONG_TYPO is read by no code",
        ),
        (lambda o, k: k["resources"].append("secret.yaml"), "the Secret template would overwrite"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_the_checks_catch_broken_manifests(change, expected):
    kustomization, objects = copy.deepcopy(load_manifests())
    if change.__code__.co_argcount == 2:
        change(objects, kustomization)
    else:
        change(objects)
    found = problems(kustomization, objects)
    assert any(expected in problem for problem in found), found


def test_compose_runs_quorum_queues_metrics_and_worker_probes():
    services = load_raw()["services"]
    for name in SERVICES:
        worker = services[f"{name}-worker"]
        assert worker["environment"]["SHEGONG_QUEUE_TYPE"] == "quorum"
        assert worker["environment"]["SHEGONG_METRICS_PORT"] == "9100"
        assert "http://127.0.0.1:9100/readyz" in " ".join(worker["healthcheck"]["test"])
        # `make status` run in another container finds the worker and the API by name
        assert worker["environment"][f"{name.upper()}_METRICS_URL"] == f"http://{name}-worker:9100"
        assert (
            worker["environment"][f"{name.upper()}_URL"]
            == f"http://{name}-api:{DEFAULT_PORTS[name]}"
        )
    rabbit = services["rabbitmq"]
    plugins_mount = next(v for v in rabbit["volumes"] if "enabled_plugins" in v)
    plugins = (ROOT / plugins_mount.split(":")[0]).read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    assert "${RABBITMQ_PASSWORD:?" in rabbit["environment"]["RABBITMQ_DEFAULT_PASS"]
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    init = [step[2] for step in commands(services["init"]["command"])]
    assert init == [
        "services.ops.definitions",
        "services.ops.bootstrap",
        "services.casework.seed",
    ]
    assert "prometheus" in services


def test_prometheus_scrapes_every_process_and_alerts_on_metrics_that_exist():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs["shegong-api"]["static_configs"][0]["targets"]) == {
        f"{name}-api:{DEFAULT_PORTS[name]}" for name in SERVICES
    }
    assert set(jobs["shegong-worker"]["dns_sd_configs"][0]["names"]) == {
        f"{name}-worker" for name in SERVICES
    }
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    from prometheus_client.metrics import MetricWrapperBase

    from services.common import metrics

    known = {
        m.describe()[0].name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)
    }
    for rule in rules["groups"][0]["rules"]:
        used = set(re.findall(r"shegong_[a-z_]+", rule["expr"]))
        assert used and all(name.removesuffix("_total") in known for name in used), rule
