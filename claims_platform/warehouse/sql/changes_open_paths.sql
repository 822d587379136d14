select distinct path
from ${database}.${audit_schema}.FILE_CHANGES
where status = 'changed'
    and (%(every)s or path in (select value::varchar from table(flatten(input => parse_json(%(paths)s)))));
