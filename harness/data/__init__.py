"""Task data: build a task's splits from its recipe, filter and check them, and describe them.

`build.build_task_data` turns a TaskSpec's data recipe (CUAD contracts in the release layout, or
the labelled synthetic generator) into train / few-shot pool / dev / test records with a data
card; `card` renders that card; `validate` checks a task folder and its data before a run. The package knows records, schemas and the normalizers; it knows
nothing of prompts, engines, scoring or the CLI.
"""
