"""The summary's `regression` section: did the adapter lose general capabilities the base model had?

Each regression-probe item (harness.task.probes) is checked on the base model's output and on the
adapter's under every serving pattern that ran. The adapter the verdict judges is compared with the
base item by item: pass rates, their difference, the exact McNemar test on the discordant items,
the items that regressed (base passed, adapter failed) and those that improved. The finding feeds
the verdict's reasons and its optional regression check (harness.decide.verdict). A failed request is a
failed item. Pure: it reads predictions it is given and writes nothing.
"""

from __future__ import annotations

from typing import Any, Mapping

from harness.engine.prediction_log import Prediction
from harness.task.probes import PROBES, passes
from harness.statistics.stats import mcnemar_exact
from harness.decide.verdict import RegressionFinding


def item_passes(predictions: Mapping[str, Prediction]) -> dict[str, bool]:
    """Each probe item's outcome in one batch (a missing or failed request fails its item)."""
    return {probe.id: probe.id in predictions and predictions[probe.id].error is None and passes(probe, predictions[probe.id].text)
            for probe in PROBES}


def regression_finding(base: Mapping[str, bool], adapter: Mapping[str, bool]) -> RegressionFinding:
    ids = [probe.id for probe in PROBES]
    test = mcnemar_exact([adapter[i] for i in ids], [base[i] for i in ids])
    base_rate, adapter_rate = sum(base.values()) / len(ids), sum(adapter.values()) / len(ids)
    regressed = tuple(i for i in ids if base[i] and not adapter[i])
    return RegressionFinding(base_rate, adapter_rate, adapter_rate - base_rate, test.p_value, regressed, len(ids))


def regression_section(base_label: str, batches: Mapping[str, Mapping[str, Prediction]], judged: str) -> tuple[dict[str, Any], RegressionFinding]:
    """The section (per item and label, pass rates, the judged adapter's comparison with the base) and its finding."""
    outcomes = {label: item_passes(predictions) for label, predictions in batches.items()}
    finding = regression_finding(outcomes[base_label], outcomes[judged])
    section = {
        "items": [{"id": p.id, "skill": p.skill, "prompt": p.prompt, **{label: outcomes[label][p.id] for label in outcomes},
                   "outputs": {label: batches[label][p.id].text if p.id in batches[label] else None for label in batches}} for p in PROBES],
        "pass_rates": {label: sum(items.values()) / len(items) for label, items in outcomes.items()},
        "comparison": {"base": base_label, "adapter": judged, "diff": finding.diff, "mcnemar_p": finding.p_value, "n": finding.n,
                       "test": "mcnemar_exact"},
        "regressed": list(finding.regressed),
        "improved": [p.id for p in PROBES if outcomes[judged][p.id] and not outcomes[base_label][p.id]],
    }
    return section, finding
