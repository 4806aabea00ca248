"""Job spec resolution and UTC window parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.errors import ConfigError
from reconcile.job import describe, load_job
from reconcile.timewin import Window, parse_time, windows


def test_time_forms() -> None:
    assert parse_time("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_time("2026-11-20T13") == datetime(2026, 11, 20, 13, tzinfo=UTC)
    assert parse_time("2026-11-20T13:30:00+02:00") == datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
    assert parse_time("2026-11-20T13:30:00Z") == datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--from: cannot parse 'yesterday'"):
        parse_time("yesterday", "--from")


def test_windows_cover_the_range_with_exclusive_end() -> None:
    ws = list(windows(parse_time("2026-11-20T22:30"), parse_time("2026-11-21T01")))
    assert [w.label for w in ws] == ["2026-11-20T22", "2026-11-20T23", "2026-11-21T00"]
    assert ws[-1].partition == "dt=2026-11-21/hour=00"
    with pytest.raises(ConfigError):
        list(windows(parse_time("2026-11-21"), parse_time("2026-11-20")))


def test_window_must_start_on_an_hour() -> None:
    with pytest.raises(ValueError, match="hour boundary"):
        Window(datetime(2026, 11, 20, 13, 5, tzinfo=UTC))


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(
        'name = "hub"\n[source]\nindex = "file-*"\npage_size = 100\n[archive]\nuri = "s3://b/${ARCHIVE_PREFIX}"\n'
    )
    env = {"RECONCILE_SOURCE_PAGE_SIZE": "200", "ES_URL": "http://es:9200", "ARCHIVE_PREFIX": "p"}
    import os

    os.environ["ARCHIVE_PREFIX"] = "p"
    spec = load_job(job, {"source.index": ("flag-*", "flag --index")}, environ=env)
    assert (spec.name, spec.source.index, spec.source.page_size, spec.source.url) == (
        "hub",
        "flag-*",
        200,
        "http://es:9200",
    )
    assert spec.archive.uri == "s3://b/p"


def test_errors_name_the_key_and_origin(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text("[source]\npage_size = 0\nbogus = 1\n")
    with pytest.raises(ConfigError) as err:
        load_job(job, environ={})
    text = str(err.value)
    assert (
        f"source.page_size: Input should be greater than or equal to 1, got 0 (from job file {job})"
        in text
    )
    assert "source.bogus: unknown key" in text


def test_secrets_are_refused_in_job_files(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('[source]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as err:
        load_job(job, environ={})
    assert "source.password" in str(err.value) and "hunter2" not in str(err.value)


def test_describe_masks_url_credentials() -> None:
    spec = load_job(None, {"source.url": ("https://elastic:s3cret@es:9200", "flag")}, environ={})
    assert describe(spec)["source"]["url"] == "https://***@es:9200"


def test_cli_bad_spec_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text("[archive]\ncompression = 'lz5'\n")
    result = CliRunner().invoke(
        cli, ["archive", "--job", str(job), "--from", "2026-11-20", "--to", "2026-11-21"]
    )
    assert result.exit_code == 1
    assert (
        "archive.compression: Input should be 'zstd', 'snappy', 'gzip' or 'none'" in result.output
    )


def test_cli_usage_error_exits_2() -> None:
    result = CliRunner().invoke(cli, ["archive", "--from", "2026-11-20"])
    assert result.exit_code == 2
