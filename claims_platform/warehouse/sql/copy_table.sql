-- The batch's Parquet parts of one silver table. FORCE: the ledger, checked in this transaction,
-- is what makes a file load once; Snowflake's own load history must not skip a file whose first
-- attempt was rolled back.
copy into ${table}
from @${stage}/${location}
file_format = (type = parquet)
match_by_column_name = case_insensitive
pattern = '.*[.]parquet'
force = true;
