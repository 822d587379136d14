{#
    Snowflake column masking from the PHI meta (DESIGN principle 8). One masking policy per mask
    of phi.sql, in schema GOVERNANCE of the target database:

        PHI_P_REDACT, PHI_Q_SUPPRESS, PHI_Q_YEAR, PHI_Q_ZIP3

    each `case when is_role_in_session('PHI_READER') then val else <mask> end`:
    IS_ROLE_IN_SESSION looks at the querying session's primary and secondary roles and their
    hierarchy, so a user holding PHI_READER through any granted role sees values, and a view
    owned by another role does not unmask anything.
    `on-run-start` creates the policies (and keeps their bodies in step with this file); the
    project-wide post-hook sets them on every PHI column of the model just built. Both are empty
    on DuckDB (the local analyst views in models/marts/analyst show the same masks).
    Role names and schema are vars: phi_reader_role (PHI_READER), governance_schema (GOVERNANCE).
#}


{% macro phi_policy_name(mask) -%}
    {%- set phi_class = phi_masks()[mask]['classes'][0] -%}
    {%- set schema = var('governance_schema', 'GOVERNANCE') -%}
    {{ target.database }}.{{ schema }}.PHI_{{ phi_class }}_{{ mask | upper }}
{%- endmacro %}


{# The policy body: what a session sees of `val`. #}
{% macro phi_policy_body(mask) -%}
    {%- set reader = var('phi_reader_role', 'PHI_READER') -%}
    case when is_role_in_session('{{ reader }}') then val else {{ phi_masked(mask, 'val') }} end
{%- endmacro %}


{# on-run-start: create the policies (idempotent). #}
{% macro create_phi_masking_policies() -%}
    {{ return(adapter.dispatch('create_phi_masking_policies', 'claims_platform')()) }}
{%- endmacro %}

{% macro default__create_phi_masking_policies() -%}
{%- endmacro %}

{#
    CREATE … IF NOT EXISTS then ALTER … SET BODY: CREATE OR REPLACE fails while a policy is set on
    a column, and the ALTER keeps an existing policy's body equal to this file's.
#}
{% macro snowflake__create_phi_masking_policies() -%}
create schema if not exists {{ target.database }}.{{ var('governance_schema', 'GOVERNANCE') }};
{% for mask, spec in phi_masks().items() -%}
create masking policy if not exists {{ phi_policy_name(mask) }}
    as (val {{ spec['data_type'] }}) returns {{ spec['data_type'] }} ->
    {{ phi_policy_body(mask) }}
    comment = 'claims_platform PHI mask {{ mask }} (class {{ spec['classes'] | join(', ') }})';
alter masking policy {{ phi_policy_name(mask) }} set body ->
    {{ phi_policy_body(mask) }};
{% endfor -%}
{%- endmacro %}


{#
    post-hook: set the policy of each PHI column of the model just built (FORCE replaces a policy
    already set, so re-running is idempotent; a table rebuilt by CREATE OR REPLACE starts without).
#}
{% macro apply_phi_masking_policies() -%}
    {{ return(adapter.dispatch('apply_phi_masking_policies', 'claims_platform')()) }}
{%- endmacro %}

{% macro default__apply_phi_masking_policies() -%}
{%- endmacro %}

{% macro snowflake__apply_phi_masking_policies() -%}
{%- set materialized = model.config.materialized -%}
{%- if execute and materialized in ('table', 'incremental', 'view') -%}
{%- set kind = 'view' if materialized == 'view' else 'table' -%}
{%- for name, mask in phi_columns(model) -%}
alter {{ kind }} {{ this }} modify column {{ name }}
    set masking policy {{ phi_policy_name(mask) }} force;
{% endfor -%}
{%- endif -%}
{%- endmacro %}
