"""Deployment manifests: a Dockerfile, docker-compose, and Kubernetes (Deployment, Service, HPA,
Redis), written from one :class:`DeploySpec`.

What makes them production-shaped:

- the image runs ``ch17-serving serve --host 0.0.0.0`` as a non-root user, with a HEALTHCHECK;
- several uvicorn workers behind one port share rate limits and token budgets through Redis;
- Kubernetes probes: liveness ``/health`` (restart a hung process), readiness ``/ready`` (take a
  draining or loading pod out of the Service), a startup probe for the model load;
- ``terminationGracePeriodSeconds`` longer than the longest stream, so SIGTERM lets in-flight
  streams finish; CPU and memory requests and limits; a HorizontalPodAutoscaler on CPU;
- API keys live in a Secret as SHA-256 hashes (a key file from ``ch17-serving keys``).

:func:`check_manifests` is the offline structural check the CLI runs; the tests also validate every
Kubernetes document against the official schemas (kubernetes-validate) and parse the Dockerfile
with Docker's own parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from llmpath_core import UserError, atomic_dir


@dataclass
class DeploySpec:
    image: str = "llmpath/ch17-serving:0.1.0"
    port: int = 8000
    workers: int = 2
    replicas: int = 2
    max_replicas: int = 8
    cpu_request: str = "1"
    cpu_limit: str = "2"
    memory_request: str = "1Gi"
    memory_limit: str = "2Gi"
    rate_limit: str = "60/min"
    target_cpu_percent: int = 70
    grace_seconds: int = 60


def dockerfile(spec: DeploySpec) -> str:
    return f"""# ch17-serving: an OpenAI-compatible server on llmpath's default model (CPU image)
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
RUN useradd --create-home --uid 10001 app
WORKDIR /app
RUN pip install --no-cache-dir ch17-serving==0.1.0
USER app
EXPOSE {spec.port}
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \\
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{spec.port}/health')"
STOPSIGNAL SIGTERM
CMD ["ch17-serving", "serve", "--host", "0.0.0.0", "--port", "{spec.port}", \\
     "--workers", "{spec.workers}", "--redis", "redis://redis:6379/0", \\
     "--keys-file", "/run/secrets/keys.json", "--rate-limit", "{spec.rate_limit}"]
"""


def compose(spec: DeploySpec) -> dict:
    return {
        "services": {
            "redis": {
                "image": "redis:7-alpine",
                "healthcheck": {
                    "test": ["CMD", "redis-cli", "ping"],
                    "interval": "5s",
                    "timeout": "3s",
                    "retries": 5,
                },
            },
            "api": {
                "build": ".",
                "image": spec.image,
                "ports": [f"{spec.port}:{spec.port}"],
                "depends_on": {"redis": {"condition": "service_healthy"}},
                "secrets": ["keys.json"],
                "stop_grace_period": f"{spec.grace_seconds}s",
                "deploy": {
                    "resources": {
                        "limits": {
                            "cpus": spec.cpu_limit,
                            "memory": spec.memory_limit.replace("Gi", "G"),
                        }
                    }
                },
            },
        },
        "secrets": {"keys.json": {"file": "./keys.json"}},
    }


def kubernetes(spec: DeploySpec) -> list[dict]:
    labels = {"app.kubernetes.io/name": "ch17-serving"}
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10}
    container = {
        "name": "api",
        "image": spec.image,
        "args": [
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(spec.port),
            "--workers",
            str(spec.workers),
            "--redis",
            "redis://redis:6379/0",
            "--keys-file",
            "/etc/llmpath/keys.json",
            "--rate-limit",
            spec.rate_limit,
        ],
        "command": ["ch17-serving"],
        "ports": [{"name": "http", "containerPort": spec.port}],
        "env": [
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "OMP_NUM_THREADS", "value": "1"},
        ],
        "resources": {
            "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
            "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
        },
        "startupProbe": {**probe, "failureThreshold": 30},
        "livenessProbe": {**probe, "failureThreshold": 3},
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 1,
        },
        "volumeMounts": [{"name": "keys", "mountPath": "/etc/llmpath", "readOnly": True}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ch17-serving", "labels": labels},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": spec.grace_seconds,
                    "containers": [container],
                    "volumes": [{"name": "keys", "secret": {"secretName": "ch17-serving-keys"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ch17-serving", "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "ch17-serving"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "ch17-serving",
            },
            "minReplicas": spec.replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }
    redis_labels = {"app.kubernetes.io/name": "redis"}
    redis = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "redis", "labels": redis_labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": redis_labels},
            "template": {
                "metadata": {"labels": redis_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "redis",
                            "image": "redis:7-alpine",
                            "ports": [{"name": "redis", "containerPort": 6379}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}},
                        }
                    ]
                },
            },
        },
    }
    redis_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "redis"},
        "spec": {"selector": redis_labels, "ports": [{"port": 6379, "targetPort": "redis"}]},
    }
    return [deployment, service, hpa, redis, redis_service]


def write_manifests(out: str | Path, spec: DeploySpec | None = None) -> list[Path]:
    """Write Dockerfile, docker-compose.yml and k8s/*.yaml into ``out`` (atomically, as a whole)."""
    spec = spec or DeploySpec()
    if not 1 <= spec.port <= 65535:
        raise UserError(f"--port {spec.port}: use 1-65535")
    if spec.replicas < 1 or spec.max_replicas < spec.replicas:
        raise UserError("need 1 <= --replicas <= --max-replicas")
    out = Path(out)
    names = ["Dockerfile", "docker-compose.yml", "k8s/ch17-serving.yaml"]
    with atomic_dir(out) as tmp:
        tmp = Path(tmp)
        (tmp / "Dockerfile").write_text(dockerfile(spec))
        (tmp / "docker-compose.yml").write_text(yaml.safe_dump(compose(spec), sort_keys=False))
        (tmp / "k8s").mkdir()
        (tmp / "k8s" / "ch17-serving.yaml").write_text(
            yaml.safe_dump_all(kubernetes(spec), sort_keys=False)
        )
    return [out / n for n in names]


def check_manifests(folder: str | Path) -> list[str]:
    """Offline structural checks (problems as lines; empty = fine)."""
    folder = Path(folder)
    problems = []
    text = (folder / "Dockerfile").read_text()
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    if not first.startswith("FROM "):
        problems.append("Dockerfile: the first instruction must be FROM")
    for needed in ("HEALTHCHECK", "USER ", "EXPOSE ", "CMD "):
        if needed not in text:
            problems.append(f"Dockerfile: no {needed.strip()}")
    docs = list(yaml.safe_load_all((folder / "k8s" / "ch17-serving.yaml").read_text()))
    kinds = [d.get("kind") for d in docs]
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
        if kind not in kinds:
            problems.append(f"k8s: no {kind}")
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            if "resources" not in c:
                problems.append(f"k8s: container {c['name']} has no resources")
            if c["name"] == "api" and not {"livenessProbe", "readinessProbe"} <= set(c):
                problems.append("k8s: the api container needs liveness and readiness probes")
    services = yaml.safe_load((folder / "docker-compose.yml").read_text())["services"]
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            if dep not in services:
                problems.append(f"compose: {name} depends on unknown service {dep}")
    return problems


__all__ = [
    "DeploySpec",
    "check_manifests",
    "compose",
    "dockerfile",
    "kubernetes",
    "write_manifests",
]
