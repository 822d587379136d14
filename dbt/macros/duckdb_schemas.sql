{#
    dbt-duckdb 1.11.1 lists a database's schemas by comparing information_schema's catalog_name
    with the *quoted* database name (`= '"warehouse"'`), which matches nothing: dbt then takes
    every schema of the selection for missing and creates it again at the start of every command
    (a duckdb_databases() lookup, BEGIN, CREATE SCHEMA IF NOT EXISTS, COMMIT per schema). The
    same query on the unquoted name; a schema that does not exist is still created.
#}
{% macro duckdb__list_schemas(database) -%}
    {%- set sql -%}
        select schema_name
        from system.information_schema.schemata
        {%- if database is not none %}
        where lower(catalog_name) = '{{ database | replace('"', '') | lower }}'
        {%- endif %}
    {%- endset -%}
    {{ return(run_query(sql)) }}
{%- endmacro %}
