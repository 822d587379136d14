select table_name, count(*), count_if(is_full_load), sum(size_bytes), max(landed_at)
from ${database}.${audit_schema}.FILE_LEDGER
group by table_name;
