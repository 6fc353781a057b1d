"""``red report --scheduler``: the report's RTL runs as tasks on a Dask cluster
(``red.report.rtl.simulate_on_cluster``), each bit-exact and equal to the model."""

import pytest

pytest.importorskip("distributed")

from red.energy import DEFAULT_ENERGY  # noqa: E402
from red.report import rtl  # noqa: E402
from red.report.plan import QUICK, make_plan  # noqa: E402
from red.report.sweep import ModelCache  # noqa: E402


def test_cluster_runs_are_bit_exact_and_equal_the_model():
    from distributed import LocalCluster
    model = ModelCache()
    plan = make_plan(QUICK, ("dcgan",), model)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        lines = []
        outcome = rtl.simulate(plan, "icarus", None, lines.append, None,
                               scheduler=cluster.scheduler_address)
    assert not outcome.errors and outcome.results
    section = rtl.compute(plan, outcome, model, DEFAULT_ENERGY, "icarus")
    runs = [run for run in section.to_json()["runs"] if run["source"] == "rtl"]
    assert section.problems == [] and len(runs) == sum(map(len, plan.simulated().values())) > 1
    assert all(run["golden_match"] and run["cycles_equal"] for run in runs)
    assert any("runs done" in line for line in lines)
