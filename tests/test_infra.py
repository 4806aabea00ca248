"""The deployment files parse, keep their safety settings, and only name real CLI commands."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconcile.cli import cli
from reconcile.job import load_job

INFRA = Path(__file__).resolve().parents[1] / "infra"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def check_command(argv: list[str]) -> None:
    """Fail unless ``argv`` (after ``reconcile``) names a real command with real options."""
    group: click.Command = cli
    args = list(argv)
    while args and args[0].startswith("--"):  # group options such as --log-format json
        opt = args.pop(0)
        assert opt in {o for p in cli.params for o in p.opts}, f"unknown global option {opt}"
        args.pop(0)
    ctx = click.Context(cli, **cli.context_settings)
    while isinstance(group, click.Group):
        assert args, f"no command in {argv}"
        name = args.pop(0)
        sub = group.get_command(ctx, name)
        assert sub is not None, f"reconcile has no command {name!r} ({argv})"
        group = sub
    known = {o for p in group.params for o in p.opts}
    for a in args:
        if a.startswith("--"):
            assert a.split("=")[0] in known, f"reconcile {group.name} has no option {a} ({argv})"
    group.make_context(group.name, list(args), parent=ctx, resilient_parsing=False)


def test_kustomize_bases_list_existing_files() -> None:
    for kust in INFRA.glob("k8s/*/kustomization.yaml"):
        (k,) = docs(kust)
        for res in k.get("resources", []):
            assert (kust.parent / res).exists(), f"{kust}: {res} missing"
        for gen in k.get("configMapGenerator", []):
            for f in gen.get("files", []):
                assert (kust.parent / f).exists()


def test_cronjob_is_safe_by_default() -> None:
    (cron,) = docs(INFRA / "k8s/base/cronjob.yaml")
    assert cron["kind"] == "CronJob" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] > 0
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 0
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert any(v["mountPath"] == "/tmp" for v in c["volumeMounts"])
    (sa,) = docs(INFRA / "k8s/base/serviceaccount.yaml")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_cronjob_never_reruns_a_run_that_found_gaps() -> None:
    """Exit 3 (findings, alerts sent) must not start another pod: ``Ignore`` would do exactly
    that (a replacement pod, uncounted) until the deadline, and ``Count`` would retry it."""
    (cron,) = docs(INFRA / "k8s/base/cronjob.yaml")
    rules = cron["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    by_code = {
        code: r["action"]
        for r in rules
        if "onExitCodes" in r and r["onExitCodes"]["operator"] == "In"
        for code in r["onExitCodes"]["values"]
    }
    assert by_code.get(3) == "FailJob" and by_code.get(2) == "FailJob"
    assert 1 not in by_code  # could not run: retried within backoffLimit


def test_configmaps_mounted_by_name_exist_with_that_name() -> None:
    """A generated ConfigMap gets a hash suffix unless disabled; only references inside the
    same kustomization are rewritten, so the backfill needs the base's name to be stable."""
    stable, local = set(), {}
    for kust in INFRA.glob("k8s/*/kustomization.yaml"):
        (k,) = docs(kust)
        names = set()
        for gen in k.get("configMapGenerator", []):
            names.add(gen["name"])
            if gen.get("options", {}).get("disableNameSuffixHash") or k.get(
                "generatorOptions", {}
            ).get("disableNameSuffixHash"):
                stable.add(gen["name"])
        local[kust.parent] = names
    for path in INFRA.glob("k8s/*/*.yaml"):
        for d in docs(path):
            for v in _volumes(d):
                if "configMap" in v:
                    name = v["configMap"]["name"]
                    assert name in local.get(path.parent, set()) | stable, f"{path}: {name}"


def _volumes(d: Any) -> list[dict[str, Any]]:
    if isinstance(d, dict):
        found = list(d["volumes"]) if isinstance(d.get("volumes"), list) else []
        return found + [v for x in d.values() for v in _volumes(x)]
    if isinstance(d, list):
        return [v for x in d for v in _volumes(x)]
    return []


def test_compose_mounts_a_job_spec_for_its_own_services() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    svc = compose["services"]["reconcile"]
    (mount,) = [v for v in svc["volumes"] if v.split(":")[1] == "/etc/reconcile/job.toml"]
    spec = load_job(INFRA / mount.split(":")[0], environ={})
    assert spec.source.url == "http://elasticsearch:9200"
    bucket = spec.archive.uri.removeprefix("s3://").split("/")[0]
    assert bucket in " ".join(compose["services"]["make-buckets"]["entrypoint"])
    assert svc["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_backfill_is_an_indexed_job_with_matching_shard_count() -> None:
    (job,) = docs(INFRA / "k8s/backfill/job.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    (c,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert int(env["RECONCILE_SHARD_COUNT"]) == spec["completions"]


def _commands() -> list[list[str]]:
    out = []
    for path in INFRA.rglob("*.yaml"):
        for d in docs(path):
            for c in _containers(d):
                out.append(c.get("args") or c.get("command"))
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    out.append(compose["services"]["reconcile"]["command"])
    for line in (INFRA / "compose.yaml").read_text().splitlines():
        m = re.search(r"run --rm reconcile (.+)$", line)
        if m:
            out.append(shlex.split(m.group(1)))
    for line in (INFRA / "crontab.example").read_text().splitlines():
        m = re.search(r"/reconcile (.*?) >>", line)
        if m:
            out.append(shlex.split(m.group(1)))
    return out


def _containers(d: Any) -> list[dict[str, Any]]:
    if isinstance(d, dict):
        found = list(d.get("containers", [])) if isinstance(d.get("containers"), list) else []
        for v in d.values():
            found += _containers(v)
        return found
    if isinstance(d, list):
        return [c for v in d for c in _containers(v)]
    return []


def test_every_command_in_the_deployment_files_is_real() -> None:
    commands = _commands()
    assert len(commands) >= 6
    for argv in commands:
        check_command(argv)


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(AssertionError):
        check_command(["archve", "--job", "x"])
    with pytest.raises(AssertionError):
        check_command(["run", "--jobs", "x"])


def test_iam_policy_and_job_spec_parse() -> None:
    policy = json.loads((INFRA / "iam-policy.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"s3:PutObject", "cloudwatch:GetMetricData", "athena:StartQueryExecution"} <= actions
    assert not any(a.endswith("*") for a in actions), "least privilege: no wildcard actions"
    tomllib.loads((INFRA / "k8s/base/job.toml").read_text())
    load_job(INFRA / "k8s/base/job.toml", environ={})


def test_dockerfile_runs_as_non_root_with_the_cli_entrypoint() -> None:
    text = (INFRA / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["reconcile"]' in text
    assert "RECONCILE_SQL_DIR" in text and "COPY sql " in text
