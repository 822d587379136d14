-- The lake's stage as it is (its `name` and `url` columns), if there is one.
show stages like '${stage_name}' in schema ${database}.${silver_schema};
