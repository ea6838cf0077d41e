"""Serving candidates on one engine: requests rendered from records and candidates (`requests`),
batches run with timing and retries (`predict`), the on-disk store of served batches
(`batch_store`) and its cache of the prompt-only baseline (`baseline_cache`), the zero-shot prompt
chosen on dev (`prompt_choice`) and the engine sessions of a comparison (`serving`). The engine
itself is `harness.engine`.
"""
