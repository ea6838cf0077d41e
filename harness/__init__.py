"""harness: does a LoRA adapter beat prompting for this task?"""
