-- One server, two databases: Airflow's metadata and the KYC store (never mixed).
CREATE USER kyc WITH PASSWORD 'kyc';
CREATE DATABASE kyc OWNER kyc;
-- Tasks connect as kyc_app: read/write on KYC tables, insert-only on audit_event (`kyc db grant-app-role`).
CREATE USER kyc_app WITH PASSWORD 'kyc_app';
