{#
    At most one current version per key, and is_current is exactly "valid_to is NULL".
#}
{% test scd2_one_current(model, key_columns, is_current='is_current', valid_to='valid_to') %}

select
    {{ key_columns | join(', ') }},
    'more than one current version' as problem
from {{ model }}
where {{ is_current }}
group by {{ key_columns | join(', ') }}
having count(*) > 1

union all

select
    {{ key_columns | join(', ') }},
    'is_current disagrees with valid_to' as problem
from {{ model }}
where {{ is_current }} is null
    or ({{ is_current }} and {{ valid_to }} is not null)
    or (not {{ is_current }} and {{ valid_to }} is null)

{% endtest %}
