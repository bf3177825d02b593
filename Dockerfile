# Airflow 3.3 image with the KYC package installed; DAGs, plugins and include/ are mounted by docker-compose.yaml.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update && apt-get install -y --no-install-recommends libicu-dev && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/kyc/
COPY --chown=airflow:root include /opt/kyc/include
COPY --chown=airflow:root plugins/kyc_airflow /opt/kyc/plugins/kyc_airflow
# The development package (source emulator, mail catcher) serves the compose stack's `emulator` service.
COPY --chown=airflow:root devtools /opt/kyc/devtools
# Editable: the mounted include/ and plugins/ directories are what runs, so code edits need no rebuild.
RUN pip install --no-cache-dir -e /opt/kyc -e /opt/kyc/devtools
