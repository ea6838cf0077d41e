"""Pure statistics, no harness types: bootstrap intervals, paired comparisons, Holm, McNemar
(`stats`), exact and Monte-Carlo permutation tests (`permutation`) and the power of a paired test
(`power`). Every stage that compares numbers takes them from here; nothing here knows a task,
a record or a file.
"""
