insert into ${database}.${audit_schema}.FILE_ATTEMPTS (${columns}) values (${placeholders});
