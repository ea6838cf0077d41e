"""Where a finished run goes: the report (`report/`), MLflow runs, datasets and the model registry
(`tracking`, `mlflow_store`, `mlflow_datasets`, `model_registry`) and the CI gate's JUnit XML and
PR comment (`gate_outputs`). Each reads the run's one typed summary (harness.record.run_summary's
`RunSummary`, read from summary.json); none computes a result.
"""
