{#
    The database is the target's, as dbt's default does, except when the target names none: the
    manifest a deployed code location loads is parsed at image build time, before any
    environment's database is known (Dockerfile: prod target, SNOWFLAKE_DATABASE unset), and
    dbt's default then gives every relation an empty database, `.GOLD.FCT_CLAIM`: the name
    Dagster asks for a built model's columns by, and the table name dagster-dbt reports. In the
    production end-to-end test every one of those queries failed (column schemas never reached
    the catalog outside local). With no database the relation is `GOLD.FCT_CLAIM`, in the
    session's database: prod's, or a branch deployment's clone. A build always runs with the
    database set, and is unchanged.
#}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {%- if custom_database_name is not none -%}
        {{ custom_database_name | trim }}
    {%- elif target.database -%}
        {{ target.database }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}
