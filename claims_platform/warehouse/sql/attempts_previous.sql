select path, max(attempt)
from ${database}.${audit_schema}.FILE_ATTEMPTS
where path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))))
group by path;
