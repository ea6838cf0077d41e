"""The product's own benchmark (`make bench`): what the README's speed and budget figures come from.

`wall` times whole commands (wall seconds and the peak memory of their process tree);
`generation` measures one engine variant in a process of its own; `__main__` runs the set of
measurements issue by issue asks for and writes them, with the machine they ran on, to
`reports/benchmarks/bench-<time>.json`. Nothing in the harness imports this package.
"""
