insert into ${database}.${audit_schema}.FILE_CHANGES (${columns}) values (${placeholders});
