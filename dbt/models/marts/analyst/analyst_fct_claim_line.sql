{{ analyst_view('fct_claim_line') }}
