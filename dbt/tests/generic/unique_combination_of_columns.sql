{#
    The columns together identify a row: fails with each combination found more than once.
    (The small subset of dbt_utils' test this project needs; no packages can be installed.)
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
