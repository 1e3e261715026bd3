"""Deployment manifests, validated offline: Kubernetes schemas, Docker's own Dockerfile parser."""

from __future__ import annotations

import dockerfile
import kubernetes_validate
import pytest
import yaml

from ch17_serving.deploy import DeploySpec, check_manifests, write_manifests


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deploy") / "out"
    write_manifests(folder, DeploySpec(replicas=3, max_replicas=9))
    return folder


def test_kubernetes_documents_validate_against_the_schemas(manifests):
    docs = list(yaml.safe_load_all((manifests / "k8s" / "ch17-serving.yaml").read_text()))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    api = docs[0]["spec"]["template"]["spec"]
    c = api["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["terminationGracePeriodSeconds"] >= 30
    assert docs[2]["spec"]["minReplicas"] == 3 and docs[2]["spec"]["maxReplicas"] == 9
    assert "--redis" in c["args"] and c["command"] == ["ch17-serving"]


def test_a_broken_manifest_fails_validation(manifests):
    doc = next(yaml.safe_load_all((manifests / "k8s" / "ch17-serving.yaml").read_text()))
    doc["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_dockerfile_parses_and_runs_the_server(manifests):
    cmds = dockerfile.parse_file(str(manifests / "Dockerfile"))
    kinds = [c.cmd for c in cmds]
    assert kinds[0] == "FROM" and {"USER", "HEALTHCHECK", "EXPOSE", "CMD"} <= set(kinds)
    cmd = next(c for c in cmds if c.cmd == "CMD")
    assert cmd.json and list(cmd.value[:2]) == ["ch17-serving", "serve"]
    assert check_manifests(manifests) == []


def test_compose_wires_redis_and_the_api(manifests):
    compose = yaml.safe_load((manifests / "docker-compose.yml").read_text())
    api = compose["services"]["api"]
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["ports"] == ["8000:8000"]


def test_check_reports_missing_probes(manifests, tmp_path):
    import shutil

    broken = tmp_path / "b"
    shutil.copytree(manifests, broken)
    path = broken / "k8s" / "ch17-serving.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    del docs[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    path.write_text(yaml.safe_dump_all(docs))
    assert any("probes" in p for p in check_manifests(broken))
