-- The external stage over this deployment's lake, created when lake_stage_url.sql finds none or
-- one over another lake: a branch deployment's database is a clone of production's, and
-- Snowflake clones an external stage with its URL, so the clone's stage reads production's lake.
-- The stage reads S3 through a storage integration (an IAM role trusted by Snowflake, allowed
-- kms:Decrypt on the lake's key), so no key is stored in Snowflake or here.
create or replace stage ${stage}
    url = %(lake_url)s
    storage_integration = ${storage_integration}
    file_format = (type = parquet);
