-- Per table folder, the greatest full-load path and the newest change path (by file name, then
-- path): where the next incremental listing starts. One query; the ledger stays in Snowflake.
with ledger as (
    select regexp_substr(path, '^[^/]+/[^/]+/') as folder, path, file_name
    from ${database}.${audit_schema}.FILE_LEDGER
)
select 'full_load' as kind, folder, max(path) as path
from ledger
where regexp_like(path, %(full_load)s)
group by folder
union all
select 'change' as kind, folder, path
from ledger
where regexp_like(path, %(change)s)
qualify row_number() over (partition by folder order by file_name desc, path desc) = 1;
