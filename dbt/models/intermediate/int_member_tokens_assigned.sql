-- The pseudonymous member token: one random UUID per member id, minted the first time the id
-- appears in dim_member or fct_claim and never changed afterwards. Analysts see the token (in
-- mart_high_cost_claimants), never this map: it links the token to the member id, so it is PHI
-- and lives in schema intermediate, which the ANALYST role cannot read.
-- Random rather than a hash of the id (HIPAA §164.514(c): a re-identification code must not be
-- derived from the individual's information; a hash of a short id is reversed by enumeration).
-- Being random, a token cannot be recomputed, so the table is the only copy: append-only, and
-- full_refresh=false makes `dbt build --full-refresh` keep it (dbt then runs it incrementally).
-- A member deleted at the source keeps its token, so a re-inserted member gets the same one.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
    )
}}

with members as (

    select member_id from {{ ref('dim_member') }}
    union
    select member_id from {{ ref('fct_claim') }}
    where member_id is not null

),

new_members as (

    select members.member_id
    from members
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as assigned
        where assigned.member_id = members.member_id
    )
    {%- endif %}

)

select
    member_id,
    {{ random_uuid() }} as member_token,
    cast({{ dbt.current_timestamp() }} as timestamp) as minted_at
from new_members
