alter table ${table} add column if not exists ${column} ${type};
