update ${database}.${audit_schema}.FILE_CHANGES
set status = %(status)s, resolved_at = %(now)s
where status = 'changed'
    and path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
