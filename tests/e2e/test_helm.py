"""The Helm chart, linted and rendered with Helm's own library (helm-python-sdk binds Helm
v4's Go SDK), every rendered manifest validated against the Kubernetes schemas
(kubernetes-validate, strict), for the default values and the value sets users reach for."""

import base64
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "gatehouse"
KUBERNETES = "1.30.0"
EXTERNAL_DB = "postgres://gatehouse:s3cret-db-password@db.example.com:5432/gatehouse"
# Custom resources the core schemas do not know; checked by hand below.
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("cloud.google.com/v1", "BackendConfig")}

VALUE_SETS = {
    "defaults": None,
    "hpa": {"dataPlane": {"autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80,
                                          "metrics": [{"type": "Pods", "pods": {
                                              "metric": {"name": "gatehouse_open_streams"},
                                              "target": {"type": "AverageValue", "averageValue": "200"}}}]}}},
    **{f"ingress-{preset}": {"ingress": {"enabled": True, "preset": preset,
                                         "tls": [{"secretName": "gh-tls", "hosts": ["gatehouse.example.com"]}]}}
       for preset in ("nginx", "gke", "aws", "azure")},
    "external-database": {"database": {"externalDatabaseUrl": EXTERNAL_DB}},
    "existing-secrets": {"secrets": {"existingSecret": "my-gatehouse"},
                         "database": {"existingSecret": "my-db", "existingSecretKey": "url"}},
    "bundled-postgres": {"postgresql": {"enabled": True, "storage": "2Gi"}},
    "everything": {
        "database": {"externalDatabaseUrl": EXTERNAL_DB},
        "dataPlane": {"autoscaling": {"enabled": True}, "env": {"GATEHOUSE_BEDROCK_REGION": "eu-west-1"},
                      "envFromSecrets": ["provider-creds"]},
        "env": {"GATEHOUSE_LOG_LEVEL": "debug"},
        "extraEnv": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "envFrom": [{"configMapRef": {"name": "gatehouse-extra"}}],
        "metrics": {"serviceMonitor": {"enabled": True}, "protectWithSecret": True,
                    "grafanaDashboard": {"enabled": True}},
        "networkPolicy": {"enabled": True, "ingressFrom": [{"kubernetes.io/metadata.name": "apps"}]},
        "ingress": {"enabled": True, "preset": "nginx"},
    },
}


def render(values):
    manifests = helm.Chart.load(str(CHART)).render(values, name="gh", namespace="gatehouse", is_install=True)
    docs = [d for path, text in manifests.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    return docs, manifests


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def deployment(docs, component):
    return next(d for d in by_kind(docs, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == component)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lints_clean(name):
    report = helm.lint(str(CHART), VALUE_SETS[name], strict=True, kube_version=f"v{KUBERNETES}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report["messages"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_renders_valid_kubernetes(name):
    docs, _ = render(VALUE_SETS[name])
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            assert doc["metadata"]["name"] and doc["spec"]
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_probes_resources_and_hardening_everywhere(name):
    docs, _ = render(VALUE_SETS[name])
    for workload in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            assert c["readinessProbe"] and c["livenessProbe"], (workload["metadata"]["name"], c["name"])
            assert c["resources"]["requests"] and c["resources"]["limits"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"] is True


SECRET_ISH = ("SECRET", "KEY", "PASSWORD", "TOKEN", "DATABASE_URL")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_no_secret_value_in_plain_env(name):
    docs, manifests = render(VALUE_SETS[name])
    secret_values = {
        base64.b64decode(v).decode() for s in by_kind(docs, "Secret") for v in s.get("data", {}).values()
    } | {EXTERNAL_DB, "s3cret-db-password"}
    for workload in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            for env in c.get("env", []):
                if any(word in env["name"] for word in SECRET_ISH):
                    assert "valueFrom" in env and "value" not in env, env
                assert env.get("value") not in secret_values, env["name"]
    for path, text in manifests.items():
        if not path.endswith("secret.yaml"):
            assert "s3cret-db-password" not in text, path


def test_hpa_owns_the_data_plane_replicas():
    docs, _ = render(VALUE_SETS["hpa"])
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    dp = deployment(docs, "data-plane")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": dp["metadata"]["name"]}
    assert "replicas" not in dp["spec"], "the HPA owns the replica count"
    kinds = [m["resource"]["name"] if m["type"] == "Resource" else m["pods"]["metric"]["name"]
             for m in hpa["spec"]["metrics"]]
    assert kinds == ["cpu", "memory", "gatehouse_open_streams"]
    docs, _ = render(None)
    assert by_kind(docs, "HorizontalPodAutoscaler") == []
    assert deployment(docs, "data-plane")["spec"]["replicas"] == 2


def test_drain_settings_match():
    docs, _ = render({"dataPlane": {"drain": {"gracePeriodSeconds": 120, "preStopSleepSeconds": 15}}})
    pod = deployment(docs, "data-plane")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GATEHOUSE_SHUTDOWN_GRACE_SECS"] == "120"
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 15}}
    assert pod["terminationGracePeriodSeconds"] == 15 + 120 + 5


def test_ingress_presets_route_both_planes_with_stream_timeouts():
    expectations = {
        "nginx": ("nginx.ingress.kubernetes.io/proxy-read-timeout", "3600"),
        "aws": ("alb.ingress.kubernetes.io/load-balancer-attributes", "idle_timeout.timeout_seconds=3600"),
        "azure": ("appgw.ingress.kubernetes.io/request-timeout", "3600"),
    }
    for preset in ("nginx", "gke", "aws", "azure"):
        docs, _ = render(VALUE_SETS[f"ingress-{preset}"])
        (ingress,) = by_kind(docs, "Ingress")
        paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
        assert paths == {"/api": "gh-gatehouse-control-plane", "/v1": "gh-gatehouse-data-plane"}
        if preset in expectations:
            key, value = expectations[preset]
            assert ingress["metadata"]["annotations"][key] == value
    docs, _ = render(VALUE_SETS["ingress-gke"])
    (backend,) = by_kind(docs, "BackendConfig")
    assert backend["spec"]["timeoutSec"] == 3600
    service = next(s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "gh-gatehouse-data-plane")
    assert service["metadata"]["annotations"]["cloud.google.com/backend-config"] == '{"default": "gh-gatehouse-data-plane"}'


def test_database_sources():
    docs, _ = render(VALUE_SETS["external-database"])
    assert by_kind(docs, "StatefulSet") == [], "an external database replaces the bundled one"
    db = next(s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "gh-gatehouse-database")
    assert base64.b64decode(db["data"]["database-url"]).decode() == EXTERNAL_DB
    docs, _ = render(VALUE_SETS["existing-secrets"])
    assert by_kind(docs, "Secret") == [], "nothing generated when both Secrets are given"
    cp = deployment(docs, "control-plane")["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in cp["env"] if "valueFrom" in e}
    assert refs["GATEHOUSE_DATABASE_URL"] == {"name": "my-db", "key": "url"}
    assert refs["GATEHOUSE_AUTH_SECRET"]["name"] == "my-gatehouse"
    docs, _ = render(VALUE_SETS["bundled-postgres"])
    (pg,) = by_kind(docs, "StatefulSet")
    assert pg["spec"]["replicas"] == 1
    url = base64.b64decode(next(s for s in by_kind(docs, "Secret") if s["metadata"]["name"] ==
                                "gh-gatehouse-database")["data"]["database-url"]).decode()
    assert url.startswith("postgres://gatehouse:") and url.endswith("@gh-gatehouse-postgresql:5432/gatehouse")


def test_generated_secrets_are_kept_on_uninstall():
    docs, _ = render(None)
    for secret in by_kind(docs, "Secret"):
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    main = next(s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "gh-gatehouse")
    assert all(len(base64.b64decode(v)) >= 32 for v in main["data"].values())


def test_schema_refuses_typos_and_bad_values():
    for bad in ({"dataPlane": {"replica": 3}}, {"ingress": {"preset": "traefik"}},
                {"database": {"externalDatabaseUrl": "mysql://x"}}):
        with pytest.raises(helm.HelmError):
            render(bad)


def test_env_envfrom_and_secrets_reach_both_planes():
    docs, _ = render(VALUE_SETS["everything"])
    dp = deployment(docs, "data-plane")["spec"]["template"]["spec"]["containers"][0]
    cp = deployment(docs, "control-plane")["spec"]["template"]["spec"]["containers"][0]
    for c in (dp, cp):
        names = [e["name"] for e in c["env"]]
        assert "GATEHOUSE_LOG_LEVEL" in names and "POD_IP" in names and "GATEHOUSE_METRICS_SECRET" in names
        assert {"configMapRef": {"name": "gatehouse-extra"}} in c["envFrom"]
    assert {"secretRef": {"name": "provider-creds"}} in dp["envFrom"]
    assert {"name": "GATEHOUSE_BEDROCK_REGION", "value": "eu-west-1"} in dp["env"]
    (dashboard,) = by_kind(docs, "ConfigMap")
    assert "gatehouse_open_streams" in dashboard["data"]["gatehouse-overview.json"]
