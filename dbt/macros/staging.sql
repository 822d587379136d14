{#
    The select list of a staging view: the columns the project knows, cast to their contract
    types, in the order given, then every other non-metadata column of the source relation as it
    is (a column added at the source by DDL, VARCHAR in silver and NULL in earlier rows; see
    added_source_columns). `columns` is a list of (name, type) pairs.
#}
{% macro staging_columns(source_relation, columns) -%}
    {%- set known = [] -%}
    {%- set expressions = [] -%}
    {%- for name, type in columns -%}
        {%- do known.append(name) -%}
        {%- do expressions.append('cast(' ~ name ~ ' as ' ~ type ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {%- for name in added_source_columns(source_relation, known) -%}
        {%- do expressions.append(name) -%}
    {%- endfor -%}
    {{ expressions | join(',\n        ') }}
{%- endmacro %}


{# The silver metadata columns every change table starts with, with their types. #}
{% macro change_metadata_columns() -%}
    {{ return([
        ('_change_id', 'varchar'),
        ('_op', 'varchar'),
        ('_dms_timestamp', 'timestamp'),
        ('_change_seq', 'varchar'),
        ('_is_full_load', 'boolean'),
        ('_source_file', 'varchar'),
        ('_source_file_name', 'varchar'),
        ('_row_number', 'bigint'),
        ('_batch_id', 'varchar'),
        ('_loaded_at', 'timestamp'),
    ]) }}
{%- endmacro %}
