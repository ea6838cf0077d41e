"""Engines that serve generation requests: vLLM in-process, or an OpenAI-compatible vLLM server.

Both take the same `GenerationRequest` (prompt token ids already rendered through the model's chat
template) and return the same `GenerationResult`, so predictions and timings compare like with
like across modes; `prediction_log` is the append-only file of what a batch returned. This package is the only place that imports vLLM.
"""
