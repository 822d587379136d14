select count(*) from ${table};
