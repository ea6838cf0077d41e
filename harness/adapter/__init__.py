"""The adapter a comparison serves: where it comes from — trained on the task's data, or given
(`adapter_source`) — the static and live checks that it fits the base model and does something
(`adapter_checks`), and its merged copy for serving without LoRA (`merge`). It calls training;
it knows nothing of engines beyond the checks' reference generation.
"""
