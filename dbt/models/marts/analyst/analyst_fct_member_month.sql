{{ analyst_view('fct_member_month') }}
