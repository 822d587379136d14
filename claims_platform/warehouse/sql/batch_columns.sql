-- The columns of a batch's Parquet files for one table, read from the files' footers.
select column_name
from table(
    infer_schema(location => '@${stage}/${location}', file_format => '${file_format}')
);
