-- Schemas and file format (run once per database; idempotent). The external stage over the lake
-- is lake_stage.sql's.
create schema if not exists ${database}.${silver_schema};
create schema if not exists ${database}.${audit_schema};
create file format if not exists ${database}.${silver_schema}.PARQUET type = parquet;
-- Rejects and unclassified added columns (raw values): granted to the loading role alone.
create schema if not exists ${database}.${restricted_schema};
-- One row: the single-writer lease (holder, expires_at) and the row every commit transaction
-- updates, so two commits never pass the ledger check together.
create table if not exists ${database}.${audit_schema}.COMMIT_LOCK (
    lock_name varchar,
    locked_at timestamp_ntz
);
alter table ${database}.${audit_schema}.COMMIT_LOCK add column if not exists holder varchar;
alter table ${database}.${audit_schema}.COMMIT_LOCK add column if not exists expires_at timestamp_ntz;
alter table ${database}.${audit_schema}.COMMIT_LOCK add column if not exists holder_session varchar;
insert into ${database}.${audit_schema}.COMMIT_LOCK (lock_name, locked_at)
    select 'silver', sysdate()
    where not exists (select 1 from ${database}.${audit_schema}.COMMIT_LOCK);
