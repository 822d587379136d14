{#
    Custom schemas are used verbatim (staging, intermediate, gold) instead of dbt's default
    `<target schema>_<custom schema>`: the gold tables are a contract (CONTRACT §4: schema `gold`
    locally, `GOLD` on Snowflake), so their schema must not depend on the target.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
