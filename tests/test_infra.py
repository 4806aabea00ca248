"""The deployment files parse, keep their safety settings, and only name real CLI commands."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
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
    # Amazon OpenSearch Service: the reads are GET (mappings, ISM), POST (search, count, open
    # point in time) and DELETE (close point in time); never PUT.
    assert {"es:ESHttpGet", "es:ESHttpPost", "es:ESHttpDelete"} <= actions
    assert "es:ESHttpPut" not in actions
    assert not any(a.endswith("*") for a in actions), "least privilege: no wildcard actions"
    tomllib.loads((INFRA / "k8s/base/job.toml").read_text())
    load_job(INFRA / "k8s/base/job.toml", environ={})


def test_dockerfile_runs_as_non_root_with_the_cli_entrypoint() -> None:
    text = (INFRA / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["reconcile"]' in text
    assert "RECONCILE_SQL_DIR" in text and "COPY sql " in text


# -- strict schema validation ---------------------------------------------------------------

#: Oldest Kubernetes minor the manifests support (CronJob timeZone is GA since 1.27,
#: backoffLimitPerIndex beta and on by default since 1.29).
MIN_K8S = (1, 29)
KUSTOMIZATIONS = sorted(p.parent for p in INFRA.glob("k8s/*/kustomization.yaml"))


def python_render(root: Path) -> list[dict[str, Any]]:
    """What ``kubectl kustomize`` makes of our kustomizations, for machines without kubectl.

    It covers only the features they use: ``resources`` files, ``namespace``, ``labels``
    without selectors (metadata only), ``configMapGenerator`` with ``files`` and a disabled
    name hash, and ``images`` (newName/newTag). Anything else fails loudly. Where kubectl
    is installed, :func:`test_python_render_matches_kubectl` keeps the two in step.
    """
    (k,) = docs(root / "kustomization.yaml")
    known = {"apiVersion", "kind", "namespace", "labels", "resources", "configMapGenerator",
             "images"}  # fmt: skip
    assert set(k) <= known, f"{root}: python_render does not know {set(k) - known}"
    out = [d for res in k.get("resources", []) for d in docs(root / res)]
    for gen in k.get("configMapGenerator", []):
        assert gen.get("options", {}).get("disableNameSuffixHash"), "hash suffixes not rendered"
        data = {Path(f).name: (root / f).read_text() for f in gen["files"]}
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]},
                    "data": data})  # fmt: skip
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in k.get("images", [])}
    for d in out:
        meta = d.setdefault("metadata", {})
        if k.get("namespace"):
            meta["namespace"] = k["namespace"]
        for label in k.get("labels", []):
            assert not label.get("includeSelectors"), "selector labels not rendered"
            meta.setdefault("labels", {}).update(label["pairs"])
        for c in _containers(d):
            c["image"] = images.get(c["image"], c["image"])
    return out


def rendered(root: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize`` where it is installed, else :func:`python_render`."""
    if shutil.which("kubectl"):
        text = subprocess.run(
            ["kubectl", "kustomize", str(root)], check=True, capture_output=True, text=True
        ).stdout
        return [d for d in yaml.safe_load_all(text) if d]
    return python_render(root)


def k8s_versions() -> list[str]:
    """Every Kubernetes minor from MIN_K8S to the newest kubernetes-validate knows."""
    from kubernetes_validate.utils import all_versions

    minors = {tuple(int(x) for x in v.split(".")[:2]) for v in all_versions()}
    return [f"{a}.{b}.0" for a, b in sorted(minors) if (a, b) >= MIN_K8S]


@pytest.mark.parametrize("root", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_rendered_manifests_pass_strict_validation(root: Path) -> None:
    import kubernetes_validate

    resources = rendered(root)
    versions = k8s_versions()
    assert versions[0] == "1.29.0" and len(versions) >= 5
    failures = []
    for version in versions:
        for d in resources:
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                failures.append(f"{version} {d['kind']}/{d['metadata']['name']}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_strict_validation_catches_what_it_must() -> None:
    import kubernetes_validate

    (cron,) = [d for d in python_render(INFRA / "k8s/base") if d["kind"] == "CronJob"]
    rules = cron["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    (cond,) = [r for r in rules if "onPodConditions" in r]
    del cond["onPodConditions"][0]["status"]  # the defect the review found
    with pytest.raises(kubernetes_validate.ValidationError, match="status"):
        kubernetes_validate.validate(cron, "1.29.0", strict=True)


def test_cronjob_schedule_is_in_utc() -> None:
    (cron,) = docs(INFRA / "k8s/base/cronjob.yaml")
    assert cron["spec"]["timeZone"] == "Etc/UTC"


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed")
def test_python_render_matches_kubectl() -> None:
    for root in KUSTOMIZATIONS:
        key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
        assert sorted(python_render(root), key=key) == sorted(rendered(root), key=key), root
