"""Train LoRA adapters on rendered chat examples and keep them in a content-addressed store.

`train.train_adapter(TrainJob)` returns a published adapter folder (PEFT files, `manifest.json`,
`history.jsonl`), reusing one whose key matches; `adapter_store` computes keys, finds and reads
adapters without importing torch; `examples` tokenizes with the answer-only label mask; `batches`,
`objective`, `loop` and `checkpoint` are the training itself; `precision` picks device and dtypes
(QLoRA on CUDA only); `model_prep` turns the embedded base model into a Hugging Face folder once.
The package knows nothing of MLflow, engines, prompts or the CLI: callers render the examples and
log what it returns.
"""
