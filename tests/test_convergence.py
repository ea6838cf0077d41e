"""Table tests for harness.decide.convergence on literal loss histories."""

from __future__ import annotations

import pytest

from harness.decide.convergence import training_notes


def history(dev: dict[int, float], train: dict[int, float]) -> list[dict]:
    steps = sorted(set(dev) | set(train))
    return [{"step": s, "train_loss": train.get(s), "dev_loss": dev.get(s)} for s in steps]


FALLING = history({0: 2.0, 20: 1.0, 40: 0.6}, {s: 1.0 - s / 100 for s in range(1, 41)})
FLAT = history({0: 2.0, 20: 0.60, 40: 0.595}, {s: 1.0 - s / 100 for s in range(1, 41)})
DIVERGING = history({0: 2.0, 20: 0.50, 40: 0.70}, {s: 1.0 - s / 100 for s in range(1, 41)})
BOTH_RISING = history({0: 2.0, 20: 0.50, 40: 0.70}, {s: 0.5 + s / 100 for s in range(1, 41)})


@pytest.mark.parametrize(("case", "rows", "kept", "starts"), [
    ("dev loss still falling 40 % at the end", FALLING, None, ["Under-trained: "]),
    ("dev loss flat at the end (-0.8 %)", FLAT, None, []),
    ("dev up 40 % from its best while train falls", DIVERGING, None, ["Train and dev loss diverge: "]),
    ("early stopping kept the best step", DIVERGING, 20, []),
    ("train loss rising too is not divergence", BOTH_RISING, None, []),
    ("only the untrained evaluation", history({0: 2.0}, {1: 1.0}), None, []),
    ("no history", [], None, []),
])
def test_training_notes(case: str, rows: list[dict], kept: int | None, starts: list[str]) -> None:
    notes = training_notes(rows, kept)
    assert [note[: len(start)] for note, start in zip(notes, starts)] == starts and len(notes) == len(starts), case


def test_under_training_note_carries_the_numbers() -> None:
    assert training_notes(FALLING) == (
        "Under-trained: the adapter's dev loss was still falling when training ended (1.000 at step 20 -> 0.600 at "
        "step 40, -40%); more epochs or a higher learning rate would likely help.",)
