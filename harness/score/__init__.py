"""Scoring served outputs: one record's parse/schema/field score (`scoring`), the declared metrics
with their directions and aggregation (`metrics`), a candidate's scored batch (`candidate_scores`)
and the money a candidate costs (`cost`). Takes predictions and gold; decides nothing.
"""
