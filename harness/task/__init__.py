"""What a task is: its specs from task.yaml and the candidate YAMLs (`specs`, read strictly by
`strict_yaml`), its prompt templates (`prompts`), its records and their hashes (`records`), the
field normalizers that say when two values agree (`normalize`, `jurisdiction`) and the fixed
general-capability probe items (`probes`). Every later stage reads these types; this package imports
no other stage.
"""
