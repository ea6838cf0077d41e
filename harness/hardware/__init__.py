"""What the machine is and what it can do: the run's one device-and-dtype decision, probed and
remembered per machine (`precision`), and the resident memory of a process tree (`process_memory`).
It knows torch, /proc and the cache folder; nothing of tasks, models or engines.
"""
