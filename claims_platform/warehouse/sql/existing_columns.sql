-- The columns the platform's schemas already have: `ensure` sends DDL only for what is missing
-- (one ALTER per contract column on every run would be hundreds of statements).
select table_schema, table_name, column_name
from ${database}.information_schema.columns
where table_schema in (%(silver_schema)s, %(audit_schema)s, %(restricted_schema)s);
