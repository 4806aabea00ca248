"""Sessions share the SDK's model loader, and nothing that depends on the environment."""

from __future__ import annotations

import pytest

from reconcile import aws


def test_sessions_share_one_model_loader() -> None:
    one, two = aws.session(), aws.session()
    assert one is not two
    loader = one._session.get_component("data_loader")
    assert loader is two._session.get_component("data_loader")
    one.client("s3", region_name="us-east-1")
    # The S3 model is parsed once: the second session finds it in the shared cache.
    cached = [k for k in loader._cache if k[0] == "load_service_model" and "s3" in k[1:]]
    assert cached
    two.client("s3", region_name="us-east-1")
    assert [k for k in loader._cache if k[0] == "load_service_model" and "s3" in k[1:]] == cached


def test_each_session_reads_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-one")
    first = aws.session()
    seen = (first.region_name, first.get_credentials().access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    second = aws.session()
    assert seen == ("eu-west-1", "first")
    assert (second.region_name, second.get_credentials().access_key) == ("ap-south-1", "second")
    assert aws.session("us-west-2").region_name == "us-west-2"
