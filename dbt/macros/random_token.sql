{#
    A random version-4 UUID as text, a new one for every row: the pseudonymous member token
    (int_member_tokens_assigned). Random on purpose: HIPAA §164.514(c) asks that a
    re-identification code not be derived from information about the individual, and a hash of
    a short member id is reversed by hashing every possible id. Adapter-specific like
    macros/cross_db.sql; default__ is Snowflake.
#}
{% macro random_uuid() -%}
    {{ return(adapter.dispatch('random_uuid', 'claims_platform')()) }}
{%- endmacro %}

{% macro default__random_uuid() -%}
    uuid_string()
{%- endmacro %}

{% macro duckdb__random_uuid() -%}
    cast(uuid() as varchar)
{%- endmacro %}
