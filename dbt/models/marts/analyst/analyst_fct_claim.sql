{{ analyst_view('fct_claim') }}
