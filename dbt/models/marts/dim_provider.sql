-- Provider history, one row per SCD2 version (CONTRACT §4).
select
    provider_id,
    npi,
    entity_type_code,
    provider_name,
    taxonomy_code,
    state,
    zip5,
    network_status,
    updated_at,
    {{ hash_key(['provider_id', '_change_id']) }} as provider_sk,
    valid_from,
    valid_to,
    is_current
from {{ ref('int_provider_versions_historized') }}
