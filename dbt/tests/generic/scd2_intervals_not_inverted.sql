{#
    Versions that end before they start: the next change of the key is later in change sequence
    order but has an earlier DMS_TIMESTAMP (e.g. a change cached during a full load, committed
    before the load's timestamp). The history follows the contract literally, so this is a
    warning about the source's clocks, not a failure (the models set severity: warn).
#}
{% test scd2_intervals_not_inverted(model, key_columns, valid_from='valid_from', valid_to='valid_to') %}

select
    {{ key_columns | join(', ') }},
    {{ valid_from }},
    {{ valid_to }}
from {{ model }}
where {{ valid_to }} < {{ valid_from }}

{% endtest %}
