"""The analysts' KYC workspace served by Airflow's api-server (see :mod:`kyc_airflow.plugin`)."""
