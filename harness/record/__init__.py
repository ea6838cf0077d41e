"""The run folder on disk and its record: create or resume a run, mark its state, point `latest`,
write JSON atomically and describe the environment (`run_record`); the run summary as one typed
value that round-trips through summary.json (`run_summary`). The report and MLflow read what they
wrote; neither computes what the summary says.
"""
