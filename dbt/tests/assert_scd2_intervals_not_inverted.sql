{#
    Versions that end before they start: the next change of the key is later in change sequence
    order but has an earlier DMS_TIMESTAMP (e.g. a change cached during a full load, committed
    before the load's timestamp). The history follows the contract literally, so this is a
    warning about the source's clocks, not a failure.
#}
{{ config(severity='warn') }}

{% for dimension, key in [('dim_member', 'member_id'), ('dim_provider', 'provider_id')] %}
select
    '{{ dimension }}' as dimension,
    {{ key }} as key_value,
    valid_from,
    valid_to
from {{ ref(dimension) }}
where valid_to < valid_from
{% if not loop.last %}union all{% endif %}
{% endfor %}
