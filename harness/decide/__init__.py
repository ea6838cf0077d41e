"""Deciding from scores: paired comparisons between candidates (`evaluate`), the verdict and the
gate's checks (`verdict`), the baseline chosen on dev (`baseline_choice`), training-history notes
(`convergence`), the regression probe's finding (`regression`) and the edge-case slices' section
(`slice_summary`). Takes scored candidates; serves nothing and writes nothing.
"""
