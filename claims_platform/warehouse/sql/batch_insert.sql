insert into ${database}.${audit_schema}.BATCHES
    (_batch_id, committed_at, files, quarantined_files, rows_loaded, rows_rejected)
values
    (%(batch_id)s, %(committed_at)s, %(files)s, %(quarantined_files)s, %(rows_loaded)s,
     %(rows_rejected)s);
