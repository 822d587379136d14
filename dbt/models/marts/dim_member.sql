-- Member history, one row per SCD2 version (CONTRACT §4). No raw SSN: ssn_token only.
select
    member_id,
    subscriber_id,
    relationship_code,
    first_name,
    last_name,
    birth_date,
    gender,
    ssn_token,
    address_line1,
    city,
    state,
    zip5,
    phone,
    email,
    updated_at,
    {{ hash_key(['member_id', '_change_id']) }} as member_sk,
    valid_from,
    valid_to,
    is_current
from {{ ref('int_member_versions_historized') }}
