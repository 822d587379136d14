{#
    Least-privilege role layout of the Snowflake database, as SQL generated from the target and
    vars, so every environment (prod, each branch clone) gets the same grants:

        LOADER       creates and owns silver, the audit ledger and RESTRICTED (COPY INTO from
                     the lake stage through the storage integration); reads nothing else
        TRANSFORMER  the dbt role: reads silver and audit, builds staging / intermediate / gold /
                     analyst, owns the masking policies of GOVERNANCE; holds PHI_READER because
                     it must read real values to build gold
        ANALYST      reads gold (masked by policy) and the analyst views; nothing upstream
        PHI_READER   grants no object: holding it is what unmasks PHI (IS_ROLE_IN_SESSION)

    RESTRICTED holds raw values no PHI class governs: rejected rows as landed (SSNs before
    tokenization) and columns added at the source that no contract classifies yet
    (claims_platform/silver/restricted.py). Default-deny: LOADER alone reads it; no other role,
    not TRANSFORMER (so no dbt model and no branch deployment working as it), and no future grant
    opens it. A branch clone copies the grants of the schemas it clones, so there too only LOADER
    reads it.

    The custom roles roll up to SYSADMIN, as Snowflake recommends. Schemas are created here
    (SYSADMIN) so future grants can be attached before dbt first runs.

        dbt run-operation claims_role_layout --target prod                    # print the SQL
        dbt run-operation claims_role_layout --target prod --args '{apply: true}'

    Applying needs a user holding SYSADMIN and SECURITYADMIN (grants use MANAGE GRANTS).
    vars: loader_role, transformer_role, analyst_role, phi_reader_role, loader_warehouse,
    transformer_warehouse, analyst_warehouse, lake_storage_integration, governance_schema,
    restricted_schema.
#}
{% macro claims_role_layout_sql() -%}
{%- set db = target.database -%}
{%- set loader = var('loader_role', 'LOADER') -%}
{%- set transformer = var('transformer_role', 'TRANSFORMER') -%}
{%- set analyst = var('analyst_role', 'ANALYST') -%}
{%- set phi_reader = var('phi_reader_role', 'PHI_READER') -%}
{%- set loaded = ['SILVER', 'AUDIT'] -%}
{%- set restricted = var('restricted_schema', 'RESTRICTED') -%}
{%- set built = ['STAGING', 'INTERMEDIATE', 'GOLD', 'ANALYST'] -%}
{%- set read_by_analysts = ['GOLD', 'ANALYST'] -%}
{%- set governance = var('governance_schema', 'GOVERNANCE') -%}
{%- set integration = var('lake_storage_integration', 'CLAIMS_LAKE') -%}
{%- set warehouses = {
    loader: var('loader_warehouse', target.warehouse),
    transformer: var('transformer_warehouse', target.warehouse),
    analyst: var('analyst_warehouse', target.warehouse),
} -%}
use role sysadmin;
{% for schema in loaded + [restricted] + built + [governance] -%}
create schema if not exists {{ db }}.{{ schema }};
{% endfor -%}
use role securityadmin;
{% for role in [loader, transformer, analyst, phi_reader] -%}
create role if not exists {{ role }};
grant role {{ role }} to role sysadmin;
{% endfor -%}
grant role {{ phi_reader }} to role {{ transformer }};
{% for role, warehouse in warehouses.items() -%}
grant usage on warehouse {{ warehouse }} to role {{ role }};
grant usage on database {{ db }} to role {{ role }};
{% endfor -%}
grant usage on integration {{ integration }} to role {{ loader }};
{# LOADER owns the silver and audit tables it creates (COPY INTO, ADD COLUMN, the ledger). #}
grant usage, create table, create stage, create file format on schema {{ db }}.SILVER
    to role {{ loader }};
grant usage, create table on schema {{ db }}.AUDIT to role {{ loader }};
grant usage, create table on schema {{ db }}.{{ restricted }} to role {{ loader }};
{% for schema in loaded -%}
grant usage on schema {{ db }}.{{ schema }} to role {{ transformer }};
grant select on all tables in schema {{ db }}.{{ schema }} to role {{ transformer }};
grant select on future tables in schema {{ db }}.{{ schema }} to role {{ transformer }};
{% endfor -%}
{% for schema in built -%}
grant usage, create table, create view on schema {{ db }}.{{ schema }} to role {{ transformer }};
{% endfor -%}
grant usage, create masking policy on schema {{ db }}.{{ governance }} to role {{ transformer }};
{% for schema in read_by_analysts -%}
grant usage on schema {{ db }}.{{ schema }} to role {{ analyst }};
grant select on all tables in schema {{ db }}.{{ schema }} to role {{ analyst }};
grant select on future tables in schema {{ db }}.{{ schema }} to role {{ analyst }};
grant select on all views in schema {{ db }}.{{ schema }} to role {{ analyst }};
grant select on future views in schema {{ db }}.{{ schema }} to role {{ analyst }};
{% endfor -%}
{%- endmacro %}


{% macro claims_role_layout(apply=false) -%}
    {%- set sql = claims_role_layout_sql() -%}
    {%- if apply -%}
        {%- do run_query(sql) -%}
        {{ log('role layout applied to ' ~ target.database, info=true) }}
    {%- else -%}
        {{ print(sql) }}
    {%- endif -%}
{%- endmacro %}
