-- One silver or audit table from its contract columns; later contract columns are added by
-- add_column.sql (both idempotent).
create table if not exists ${table} (${columns});
