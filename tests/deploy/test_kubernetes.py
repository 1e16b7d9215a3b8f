"""deploy/kubernetes/: every manifest validates against Kubernetes' own schemas
(kubernetes-validate, strict), the ServiceMonitor against its CRD's shape, and the pieces
fit together: selectors, ports, the Secret's keys and the ConfigMap's omniwatch.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from monitor.config import load_config
from tests.deploy.files import K8S, env_references, yaml_documents

# The oldest Kubernetes release still commonly run that this kubernetes-validate ships;
# the manifests use nothing newer (policy/v1 PDB since 1.21).
KUBERNETES_VERSION = "1.30.0"
# Not Kubernetes API objects: kustomize's own file, and a custom resource whose schema
# comes from the Prometheus Operator's CRD (checked below against servicemonitor.schema.json).
NOT_BUILTIN = {"kustomization.yaml", "servicemonitor.yaml"}
MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml"))


def _one(name: str) -> dict[str, Any]:
    (doc,) = yaml_documents(K8S / name)
    return doc


@pytest.mark.parametrize("name", sorted(set(MANIFESTS) - NOT_BUILTIN))
def test_manifest_validates_strictly(name: str) -> None:
    for doc in yaml_documents(K8S / name):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_wrong_field_is_refused() -> None:
    # The check can fail: a typo in a container field is a validation error.
    deployment = _one("deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_servicemonitor_has_the_crd_shape_and_selects_the_service() -> None:
    schema = json.loads((Path(__file__).parent / "servicemonitor.schema.json").read_text())
    monitor = _one("servicemonitor.yaml")
    jsonschema.validate(monitor, schema)
    service = _one("service.yaml")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    # A typo is refused, not ignored.
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, schema)


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = _one("kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    # The example Secret is left out on purpose: applying must never overwrite the real one.
    assert sorted(kustomization["resources"]) == sorted(
        set(MANIFESTS) - {"kustomization.yaml", "secret.example.yaml"})
    assert [i["name"] for i in kustomization["images"]] == ["omniwatch"]


def test_deployment_service_and_pdb_agree() -> None:
    deployment, service, pdb = _one("deployment.yaml"), _one("service.yaml"), _one(
        "poddisruptionbudget.yaml")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod_labels
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {p["name"] for p in container["ports"]} == {s["targetPort"]
                                                     for s in service["spec"]["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]


def test_configmap_config_loads_with_exactly_the_secrets_keys(tmp_path: Path) -> None:
    deployment, configmap = _one("deployment.yaml"), _one("configmap.yaml")
    secret = _one("secret.example.yaml")
    assert "EXAMPLE" in (K8S / "secret.example.yaml").read_text()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    refs = {e["secretRef"]["name"] for e in container["envFrom"]}
    refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert refs == {secret["metadata"]["name"]}
    mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["config"]
    assert f"{mount}/omniwatch.yaml" == container["args"][2]

    text = configmap["data"]["omniwatch.yaml"]
    assert env_references(text) == set(secret["stringData"])
    (tmp_path / "omniwatch.yaml").write_text(text)
    config = load_config(tmp_path / "omniwatch.yaml", env=secret["stringData"])
    assert {c.name for c in config.channels} == {"app", "website", "miniprogram", "branch"}
