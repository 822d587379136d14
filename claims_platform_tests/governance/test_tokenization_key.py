"""The SSN tokenization key: the public development key (or any key under 32 bytes) never
tokenizes outside local, nor in a process that runs deployed while CLAIMS_ENV says `local`."""

from __future__ import annotations

import re
import shlex

import pytest

from claims_platform.environment import (
    ConfigurationError,
    deployment_markers,
    get_settings,
    tokenization_key_refusal,
)
from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY, MIN_KEY_BYTES
from claims_platform_tests.conftest import REPO_ROOT

STRONG_KEY = "0123456789abcdef" * 4  # 64 bytes
SHORT_KEY = "s" * (MIN_KEY_BYTES - 1)


def _refused(monkeypatch: pytest.MonkeyPatch, key: str | None) -> str:
    if key is None:
        monkeypatch.delenv("CLAIMS_TOKENIZATION_KEY", raising=False)
    else:
        monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", key)
    with pytest.raises(ConfigurationError) as error:
        get_settings()
    message = str(error.value)
    assert "\n" not in message
    if key:
        assert key not in message  # the reason never quotes the key
    return message


def test_locally_any_key_will_do_and_the_development_key_is_the_default(platform_env, monkeypatch):
    assert get_settings().tokenization_key == LOCAL_DEVELOPMENT_KEY
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "test-key")
    assert get_settings().tokenization_key == "test-key"


@pytest.mark.parametrize("env", ["branch", "prod"])
def test_outside_local_the_development_key_and_short_keys_are_refused(
    platform_env, monkeypatch, env
):
    monkeypatch.setenv("CLAIMS_ENV", env)
    message = _refused(monkeypatch, LOCAL_DEVELOPMENT_KEY)
    assert message.startswith("CLAIMS_TOKENIZATION_KEY is the public development key:")
    assert f"CLAIMS_ENV={env}" in message
    assert "shorter than 32 bytes" in _refused(monkeypatch, SHORT_KEY)
    assert "is not set" in _refused(monkeypatch, None)
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "k" * MIN_KEY_BYTES)
    assert get_settings().tokenization_key == "k" * MIN_KEY_BYTES


def test_key_length_counts_bytes_not_characters(platform_env, monkeypatch):
    monkeypatch.setenv("CLAIMS_ENV", "prod")
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "é" * 16)  # 16 characters, 32 bytes
    assert get_settings().tokenization_key == "é" * 16


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/0123"),
        ("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE"),
        ("CLAIMS_DEPLOYED_IMAGE", "1"),
        ("CLAIMS_TOKENIZATION_KEY_SECRET_ID", "claims-platform/tokenization-key"),
        ("SNOWFLAKE_ACCOUNT", "acme-claims"),
        ("CLAIMS_LANDING_URI", "s3://acme-dms-landing/claims"),
        ("CLAIMS_LAKE_URI", "s3://acme-claims-lake/silver"),
    ],
)
def test_local_by_mistake_in_a_deployed_process_still_needs_a_secret_key(
    platform_env, monkeypatch, variable, value
):
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", "alias/claims-platform")
    for key in (None, LOCAL_DEVELOPMENT_KEY, SHORT_KEY):
        message = _refused(monkeypatch, key)
        assert "in a process that runs deployed (" in message
        assert variable in message and value not in message
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", STRONG_KEY)
    settings = get_settings()
    assert (settings.env, settings.tokenization_key) == ("local", STRONG_KEY)


def test_an_s3_emulator_on_loopback_is_local(platform_env, monkeypatch):
    monkeypatch.setenv("CLAIMS_LANDING_URI", "s3://landing/claims")
    for endpoint in ("http://127.0.0.1:5000", "http://localhost:4566", "http://[::1]:9000"):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert get_settings().tokenization_key == LOCAL_DEVELOPMENT_KEY
    # An endpoint elsewhere (a VPC interface endpoint, another host) is AWS, or may be.
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL", "https://bucket.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com"
    )
    assert "CLAIMS_LANDING_URI on S3" in _refused(monkeypatch, None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://10.0.0.7:9000")  # the S3-specific one wins
    assert "CLAIMS_LANDING_URI on S3" in _refused(monkeypatch, None)


def test_the_code_location_image_counts_as_deployed(platform_env, monkeypatch):
    """Every variable the Dockerfile sets, applied here, with CLAIMS_ENV=local by mistake."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    image_env = {}
    for line in re.findall(r"^ENV\s+(.+)$", text, re.MULTILINE):
        image_env |= dict(word.split("=", 1) for word in shlex.split(line))
    assert image_env.get("CLAIMS_DEPLOYED_IMAGE")
    for name, value in image_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMS_DATA_DIR", str(platform_env))
    assert "CLAIMS_DEPLOYED_IMAGE" in _refused(monkeypatch, LOCAL_DEVELOPMENT_KEY)


def test_the_silver_job_on_glue_is_deployed_by_its_run_argument(platform_env, monkeypatch):
    """The check the silver job can make with its own command line (Glue sets no variable)."""
    glue_argv = ["job.py", "--manifest", "s3://m", "--JOB_RUN_ID", "jr_0123"]
    assert tokenization_key_refusal(LOCAL_DEVELOPMENT_KEY, argv=["job.py"]) is None
    refusal = tokenization_key_refusal(LOCAL_DEVELOPMENT_KEY, argv=glue_argv)
    assert refusal and "the Glue argument --JOB_RUN_ID" in refusal
    assert LOCAL_DEVELOPMENT_KEY not in refusal
    assert tokenization_key_refusal(SHORT_KEY, argv=glue_argv)
    assert tokenization_key_refusal(STRONG_KEY, argv=glue_argv) is None


def test_markers_name_variables_never_their_values():
    environ = {
        "SNOWFLAKE_ACCOUNT": "acme-claims",
        "CLAIMS_LANDING_URI": "s3://acme-dms-landing/claims",
        "ECS_CONTAINER_METADATA_URI_V4": "",  # empty: not set
    }
    assert deployment_markers(environ, argv=[]) == [
        "SNOWFLAKE_ACCOUNT",
        "CLAIMS_LANDING_URI on S3",
    ]
    assert deployment_markers({}, argv=[]) == []
