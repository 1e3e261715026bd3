"""Infrastructure as code, checked offline: the tracking server's Terraform (python-hcl2).

No cloud is reachable here, so ``terraform plan`` cannot run. What can run is what a policy
tool (tfsec, checkov, OPA) does first: parse the HCL and check it against rules. The bundled
files (``terraform/``: an S3 artefact bucket, an RDS PostgreSQL backend store, an ECS service
running ``mlflow server``) are checked for

- references: every ``var.X`` is declared, every declared variable is used, and every variable
  has a type and a description;
- the provider is pinned (``~>`` or ``=``) and a minimum Terraform version is set;
- the artefact bucket is versioned, encrypted and not public;
- the database is encrypted, private, backed up (>= 7 days) and protected from deletion;
- the service gets no public IP, and every taggable resource carries tags (cost allocation).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from llmpath_core import UserError

TAGGABLE = {
    "aws_s3_bucket",
    "aws_db_instance",
    "aws_ecs_cluster",
    "aws_ecs_task_definition",
    "aws_ecs_service",
}


def bundled_dir() -> Path:
    """The folder of the bundled Terraform files."""
    return Path(str(resources.files("ch22_llmops") / "terraform"))


def _clean(value: Any) -> Any:
    """python-hcl2 8 keeps string quotes and block markers: strip both, recursively."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_terraform(folder: str | Path) -> dict[str, Any]:
    """Parse every ``*.tf`` in ``folder``: ``{"blocks": {...}, "text": all source}``."""
    import hcl2

    folder = Path(folder)
    files = sorted(folder.glob("*.tf"))
    if not files:
        raise UserError(f"no .tf files in {folder}")
    merged: dict[str, list[Any]] = {}
    text = ""
    for path in files:
        source = path.read_text()
        text += source + "\n"
        try:
            parsed = hcl2.loads(source)
        except Exception as exc:  # the parser raises lark errors of several kinds
            raise UserError(f"{path.name}: not valid HCL ({str(exc).splitlines()[0]})") from None
        for key, blocks in _clean(parsed).items():
            merged.setdefault(key, []).extend(blocks)
    return {"blocks": merged, "text": text, "files": [p.name for p in files]}


def resources_of(blocks: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(type, name): attributes}`` of every ``resource`` block."""
    out = {}
    for block in blocks.get("resource", []):
        for rtype, named in block.items():
            for name, attrs in named.items():
                out[(rtype, name)] = attrs
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def check_terraform(folder: str | Path | None = None) -> dict[str, Any]:
    """Run the rules on ``folder`` (default: the bundled files); ``{"passed", "findings"}``."""
    tf = load_terraform(folder or bundled_dir())
    blocks, text = tf["blocks"], tf["text"]
    res = resources_of(blocks)
    findings: list[dict[str, str]] = []

    def rule(ok: bool, name: str, where: str, message: str) -> None:
        findings.append({"rule": name, "where": where, "ok": bool(ok), "message": message})

    declared = {name: attrs for v in blocks.get("variable", []) for name, attrs in v.items()}
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text))
    for name in sorted(used - set(declared)):
        rule(False, "variable-declared", f"var.{name}", "referenced but not declared")
    for name, attrs in sorted(declared.items()):
        rule(name in used, "variable-used", f"var.{name}", "declared and used")
        rule(
            "description" in attrs and "type" in attrs,
            "variable-documented",
            f"var.{name}",
            "has a type and a description",
        )

    terraform = _first(blocks.get("terraform", [{}]))
    providers = _first(terraform.get("required_providers", [{}])) or {}
    rule("required_version" in terraform, "terraform-version", "terraform", "minimum version set")
    for pname, spec in providers.items():
        version = str(spec.get("version", ""))
        rule(version.startswith(("~>", "=")), "provider-pinned", pname, f"version {version!r}")

    buckets = [n for (t, n) in res if t == "aws_s3_bucket"]
    for bucket in buckets:
        ref = f"aws_s3_bucket.{bucket}.id"

        def attached(rtype: str, ref: str = ref) -> dict[str, Any] | None:
            for (t, _n), attrs in res.items():
                if t == rtype and ref in str(attrs.get("bucket", "")):
                    return attrs
            return None

        versioning = attached("aws_s3_bucket_versioning")
        status = versioning and _first(versioning.get("versioning_configuration", {})).get("status")
        rule(status == "Enabled", "bucket-versioned", bucket, "artefact versions are kept")
        rule(
            attached("aws_s3_bucket_server_side_encryption_configuration") is not None,
            "bucket-encrypted",
            bucket,
            "server-side encryption configured",
        )
        public = attached("aws_s3_bucket_public_access_block") or {}
        keys = (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
        rule(
            all(public.get(k) is True for k in keys),
            "bucket-private",
            bucket,
            "all four public-access blocks on",
        )

    for (t, n), attrs in res.items():
        if t == "aws_db_instance":
            rule(attrs.get("storage_encrypted") is True, "db-encrypted", n, "storage encrypted")
            rule(
                attrs.get("publicly_accessible") is False,
                "db-private",
                n,
                "not publicly accessible",
            )
            rule(
                int(attrs.get("backup_retention_period", 0)) >= 7,
                "db-backups",
                n,
                "backups kept at least 7 days",
            )
            rule(
                attrs.get("deletion_protection") is True,
                "db-deletion-protection",
                n,
                "deletion protection on",
            )
        if t == "aws_ecs_service":
            net = _first(attrs.get("network_configuration", {})) or {}
            rule(net.get("assign_public_ip") is False, "service-private", n, "no public IP")
        if t in TAGGABLE:
            rule("tags" in attrs, "tagged", f"{t}.{n}", "carries cost-allocation tags")

    failed = [f for f in findings if not f["ok"]]
    return {
        "files": tf["files"],
        "resources": len(res),
        "checks": len(findings),
        "failed": len(failed),
        "passed": not failed,
        "findings": findings,
    }
