select path, table_name, reason, detected_at
from ${database}.${audit_schema}.FILE_CHANGES
where status = 'changed' and (%(table)s is null or upper(table_name) = upper(%(table)s))
order by detected_at, path, landed_modified_at;
