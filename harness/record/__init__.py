"""The run folder on disk: create or resume a run, mark its state, point `latest`, write JSON
atomically and describe the environment (`run_record`). The report and MLflow read what it wrote;
it knows nothing of what the summary says.
"""
