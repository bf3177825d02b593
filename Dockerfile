# Airflow 3.3 image with the KYC package installed from uv.lock; DAGs, plugins and include/ are mounted by
# docker-compose.yaml. Every Python package comes from the lock, pinned and hash-checked: the base image's own
# packages are brought to the locked versions, nothing is resolved at build time.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update && apt-get install -y --no-install-recommends libicu-dev && rm -rf /var/lib/apt/lists/*
USER airflow

# The same uv as the Makefile's UV_VERSION.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/kyc/
COPY --chown=airflow:root devtools/pyproject.toml /opt/kyc/devtools/pyproject.toml
# Third-party packages first (a layer that changes only with the lock): the product and the development package
# (the compose stack's `emulator` service), without the dev group (tests, linters).
RUN cd /opt/kyc \
    && uv export --frozen --no-dev --all-packages --no-emit-workspace --format requirements-txt -o /tmp/requirements.txt \
    && pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY --chown=airflow:root include /opt/kyc/include
COPY --chown=airflow:root plugins/kyc_airflow /opt/kyc/plugins/kyc_airflow
COPY --chown=airflow:root devtools /opt/kyc/devtools
# Editable and without dependencies (all installed above from the lock): the mounted include/ and plugins/
# directories are what runs, so code edits need no rebuild.
RUN pip install --no-cache-dir --no-deps -e /opt/kyc -e /opt/kyc/devtools
