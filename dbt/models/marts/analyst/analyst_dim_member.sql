{{ analyst_view('dim_member') }}
