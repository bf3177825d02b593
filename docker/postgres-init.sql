-- One server, two databases: Airflow's metadata (created by the image as POSTGRES_DB) and the KYC store.
-- The names and passwords are those of the URLs in docker/airflow.env and docker/init.env.
CREATE USER kyc WITH PASSWORD 'kyc';
CREATE DATABASE kyc OWNER kyc;
-- Tasks connect as kyc_app: insert-only on decisions and the audit trail, no DELETE (`kyc db grant-app-role`).
CREATE USER kyc_app WITH PASSWORD 'kyc_app';
