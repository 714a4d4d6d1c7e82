"""The Helm chart, rendered and linted by Helm's own engine and validated against the
Kubernetes schemas."""

from __future__ import annotations

import json
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "linepulse"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES = "1.30.0"
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "ScaledObject"}  # CRDs, not in the schemas


def render(values: dict) -> list[dict]:
    rendered = helm.Chart.load(CHART).render(values, name="lp", namespace="plant")
    return [
        doc
        for path, text in rendered.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def scenario(name: str) -> dict:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text())


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def worker_container(docs: list[dict]) -> dict:
    (statefulset,) = by_kind(docs, "StatefulSet")
    return statefulset["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_renders_lints_and_validates(path):
    values = yaml.safe_load(path.read_text())
    report = helm.lint(CHART, values, strict=True)
    assert report["errors"] == []
    assert not [m for m in report["messages"] if m["severity"] >= 2]
    docs = render(values)
    assert by_kind(docs, "StatefulSet")
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_pods_run_as_non_root_with_a_read_only_root_filesystem():
    docs = render(scenario("all"))
    pods = [
        d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("StatefulSet", "Deployment", "Job")
    ]
    assert len(pods) == 6  # worker, setup job, simulator, two connector sets, MES endpoint
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_probes_use_liveness_and_real_readiness_endpoints():
    container = worker_container(render(scenario("minimal")))
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        >= 300
    )  # room for changelog recovery


def test_credentials_come_only_from_existing_secrets():
    docs = render(scenario("tls-sasl"))
    env = {e["name"]: e for e in worker_container(docs)["env"]}
    assert env["LINEPULSE_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    password = env["LINEPULSE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": "linepulse-kafka-user", "key": "password"}
    assert env["LINEPULSE_CLICKHOUSE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "linepulse-clickhouse"
    )
    assert not by_kind(docs, "Secret")
    rendered = yaml.safe_dump_all(docs)
    assert "password:" not in rendered.lower().replace("passwordkey", "")


def test_values_mistakes_are_schema_errors():
    with pytest.raises(helm.HelmError, match="clickhouse"):
        render({**scenario("minimal"), "worker": {"replicas": 3}})
    with pytest.raises(helm.HelmError, match="mechanism"):
        render(
            {
                "kafka": {
                    "bootstrapServers": "k:9092",
                    "sasl": {"enabled": True, "mechanism": "KERBEROS", "existingSecret": "s"},
                }
            }
        )
    with pytest.raises(helm.HelmError, match="replicaCount"):
        render({**scenario("minimal"), "replicaCount": 2})


def test_autoscaling_leaves_replicas_to_the_autoscaler():
    docs = render(scenario("autoscaling"))
    (statefulset,) = by_kind(docs, "StatefulSet")
    assert "replicas" not in statefulset["spec"]
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    keda = render(scenario("all"))
    assert by_kind(keda, "ScaledObject")
    assert not by_kind(keda, "HorizontalPodAutoscaler")


def test_grafana_dashboard_ships_as_a_sidecar_configmap():
    minimal = scenario("minimal")
    docs = render({**minimal, "grafanaDashboard": {"enabled": True, "folder": "Manufacturing"}})
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Manufacturing"}
    dashboard = json.loads(config_map["data"]["linepulse-oee.json"])
    assert dashboard["uid"] == "linepulse-oee"
    assert all(
        p["datasource"]["type"] == "grafana-clickhouse-datasource" for p in dashboard["panels"]
    )
    assert not by_kind(render(minimal), "ConfigMap")


def test_clickhouse_ca_and_retention_reach_the_worker_and_the_migration():
    docs = render(scenario("all"))
    container = worker_container(docs)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LINEPULSE_CLICKHOUSE_CA_FILE"] == "/etc/linepulse/clickhouse-ca/ca.crt"
    assert env["LINEPULSE_RETENTION_RAW_DAYS"] == "14"
    assert {
        "name": "clickhouse-ca",
        "mountPath": "/etc/linepulse/clickhouse-ca",
        "readOnly": True,
    } in (container["volumeMounts"])
    (job,) = by_kind(docs, "Job")
    migrate = next(
        c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "migrate"
    )
    assert {"name": "LINEPULSE_RETENTION_AGGREGATE_DAYS", "value": "1095"} in migrate["env"]
    assert any(m["name"] == "clickhouse-ca" for m in migrate["volumeMounts"])
    with pytest.raises(Exception, match="aggregateDays|minimum"):
        render({**scenario("minimal"), "clickhouse": {"retention": {"aggregateDays": 30}}})


def test_each_connector_set_runs_alone_with_its_tag_maps_from_a_configmap(tmp_path):
    from connectors.run import load_config

    docs = render(scenario("all"))
    maps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    deployments = {
        d["metadata"]["labels"]["linepulse.io/connector-set"]: d
        for d in by_kind(docs, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "connector"
    }
    assert sorted(deployments) == ["body-shop", "paint-shop"]
    body = deployments["body-shop"]
    assert body["spec"]["strategy"] == {"type": "Recreate"}
    assert body["spec"]["replicas"] == 1
    pod = body["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["connect", "--config", "/etc/linepulse/connect/plant.yaml"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    config_name = next(v["configMap"]["name"] for v in pod["volumes"] if v["name"] == "config")
    plant_yaml = tmp_path / "plant.yaml"
    plant_yaml.write_text(maps[config_name]["data"]["plant.yaml"])
    config = load_config(plant_yaml)  # what the connector will read, validated by it
    assert config.modbus[0].tags[0].asset == "plant1/body/st010/press1"
    assert config.opcua[0].url == "opc.tcp://10.20.1.40:4840"
    annotations = body["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/config"]) == 64  # a changed tag map restarts the pod


def test_mes_endpoint_takes_its_token_from_a_secret_behind_a_service_and_ingress():
    docs = render(scenario("all"))
    (deployment,) = [
        d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-mes")
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LINEPULSE_MES_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "linepulse-mes-token",
        "key": "token",
    }
    assert env["LINEPULSE_MES_TLS_CERT_FILE"]["value"] == "/etc/linepulse/mes-tls/tls.crt"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    (service,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-mes")]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (ingress,) = by_kind(docs, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "mes-gateway.plant.local"
    assert ingress["spec"]["tls"][0]["secretName"] == "mes-gateway-tls"
    with pytest.raises(Exception, match="tokenSecret|minLength"):
        render({**scenario("minimal"), "mes": {"enabled": True}})


def test_the_shift_calendar_reaches_the_workers_as_a_file_the_worker_loads(tmp_path):
    from streams.core.calendar import load_calendar

    docs = render(scenario("all"))
    container = worker_container(docs)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LINEPULSE_SHIFT_CALENDAR"] == "/etc/linepulse/calendar/calendar.yaml"
    (config_map,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("shift-calendar")
    ]
    path = tmp_path / "calendar.yaml"
    path.write_text(config_map["data"]["calendar.yaml"])
    calendar = load_calendar(path)  # what the worker will read, validated by it
    assert calendar.timezone == "Europe/Berlin"
    assert [s.name for s in calendar.lines["*"].shifts] == ["early", "late"]


def test_worker_processes_per_pod_reach_the_worker_and_are_checked():
    env = {e["name"]: e.get("value") for e in worker_container(render(scenario("minimal")))["env"]}
    assert env["LINEPULSE_PROCESSES"] == "1"
    values = {
        **scenario("minimal"),
        "worker": {**scenario("minimal").get("worker", {}), "processes": 2},
    }
    env = {e["name"]: e.get("value") for e in worker_container(render(values))["env"]}
    assert env["LINEPULSE_PROCESSES"] == "2"
    with pytest.raises(Exception, match="processes|minimum"):
        render({**scenario("minimal"), "worker": {"processes": 0}})
