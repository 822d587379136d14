-- The columns held in RESTRICTED.<TABLE>__UNCLASSIFIED (the caller leaves out the delivery keys).
select table_name, column_name
from ${database}.information_schema.columns
where table_schema = %(schema)s and right(table_name, 14) = '__UNCLASSIFIED'
order by table_name, ordinal_position;
