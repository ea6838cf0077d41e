"""One function per command chaining the stages: the resolved run configuration (`run_config`),
the checks before any heavy work (`preflight`), the data stage (`data_stage`), a comparison
(`compare`: prepare → serve → `score_stage` → `decide_stage` → `record_stage`, over the served
`run_facts`) and the learning curve over training sizes (`curve`). The CLI calls these; no stage
imports this package.
"""
