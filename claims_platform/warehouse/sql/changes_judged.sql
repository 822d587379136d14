-- The versions of the listed processed paths judged before (each is judged once).
select path, landed_size_bytes, landed_modified_at, status
from ${database}.${audit_schema}.FILE_CHANGES
where path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
