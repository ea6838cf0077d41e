"""The built-in data recipes, by the name task.yaml gives in `data.recipe`.

A recipe is generic over tasks: a new task reuses one by name and configures it with
`data.options`, so adding a task needs no Python. Each recipe checks its options, says how a
split's records are shared between strata, and harvests candidates from CUAD-layout contracts.
This module only names them; it knows nothing of how they work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from harness.data import clause_types, extraction
from harness.data.cuad_layout import Contract
from harness.data.excerpts import TokenCounter
from harness.data.harvest import Harvest
from harness.errors import HarnessError
from harness.task.specs import TaskSpec


@dataclass(frozen=True)
class Recipe:
    """How a task's records are made from contracts."""

    check: Callable[[TaskSpec], list[str]]
    weights: Callable[[TaskSpec], dict[str, float]]
    harvest: Callable[[TaskSpec, list[Contract], TokenCounter, str], Harvest]


RECIPES = {
    "cuad_extraction": Recipe(extraction.check, extraction.weights, extraction.harvest),
    "cuad_clause_type": Recipe(clause_types.check, clause_types.weights, clause_types.harvest),
}


def recipe_for(task: TaskSpec) -> Recipe:
    """The task's recipe, with its options checked."""
    where = f"{task.dir / 'task.yaml'}: data.recipe"
    if task.data.recipe not in RECIPES:
        raise HarnessError(f"unknown recipe '{task.data.recipe}'", where, f"use one of {sorted(RECIPES)}")
    recipe = RECIPES[task.data.recipe]
    problems = recipe.check(task)
    if problems:
        raise HarnessError("; ".join(problems), str(task.dir / "task.yaml"), "fix the data section (see the task card)")
    return recipe


def wanted_categories(task: TaskSpec) -> tuple[str, ...]:
    """The CUAD categories the task's recipe reads (its `data.options.categories`, a map or a list)."""
    categories = task.data.options.get("categories")
    if isinstance(categories, Mapping):
        return tuple(str(c) for c in categories.values())
    return tuple(str(c) for c in categories) if isinstance(categories, (list, tuple)) else ()
