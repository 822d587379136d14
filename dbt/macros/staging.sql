{#
    The select list of a staging view: the columns the project knows, cast to their contract
    types, in the order given, then each column added at the source since that a contract has
    classified, as it is and quoted (added_source_columns: an unclassified one never leaves the
    restricted schema). `columns` is a list of (name, type) pairs.
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
