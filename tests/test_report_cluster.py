"""``red report --scheduler``: the report's RTL runs as tasks on a Dask cluster give the
same results as one simulation per tile (``red.report.rtl.simulate_on_cluster``)."""

import numpy as np
import pytest

pytest.importorskip("distributed")

from red.report import rtl  # noqa: E402
from red.report.plan import QUICK, make_plan  # noqa: E402
from red.report.sweep import ModelCache  # noqa: E402
from red.sim.session import simulate_layers  # noqa: E402


def test_cluster_runs_equal_one_simulation_per_tile(tmp_path):
    from distributed import LocalCluster
    plan = make_plan(QUICK, ("dcgan",), ModelCache())
    local = rtl.simulate(plan, "icarus", tmp_path / "local", lambda line: None,
                         simulate_layers)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        lines = []
        remote = rtl.simulate(plan, "icarus", tmp_path / "remote", lines.append,
                              simulate_layers, scheduler=cluster.scheduler_address)
    assert not local.errors and not remote.errors
    assert local.results.keys() == remote.results.keys()
    for key, results in local.results.items():
        assert len(results) == len(remote.results[key]) > 0
        for mine, theirs in zip(results, remote.results[key]):
            assert np.array_equal(mine.y, theirs.y) and np.array_equal(mine.y_golden,
                                                                        theirs.y_golden)
            assert mine.counters == theirs.counters
            assert mine.pass_counters == theirs.pass_counters
    assert any("runs done" in line for line in lines)
