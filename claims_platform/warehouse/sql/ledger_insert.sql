insert into ${database}.${audit_schema}.FILE_LEDGER (${columns}) values (${placeholders});
