"""What the seed papers report, as ``../shared/RED_TILE.md`` ("Background") summarises
them: the one table every section of the report holds its measurements against.

Ranges are ``(low, high)`` over the papers' layers. RED's two papers compare with
different baselines: DATE 2019 with a zero-insertion ReRAM design, TCAD 2020 with several
ReRAM and CMOS designs. CompRRAE's accuracy loss is a classification accuracy, not an
output error like the report's.
"""

from __future__ import annotations

__all__ = ["CLAIMS", "RED_PAPERS", "COMPRRAE", "SPARSITY"]

#: The names of RED's own papers in :data:`CLAIMS`.
RED_PAPERS = ("DATE 2019", "TCAD 2020")
#: The name of the early-termination paper in :data:`CLAIMS`.
COMPRRAE = "CompRRAE"
#: The name of the crossbar-aware sparsity paper in :data:`CLAIMS`.
SPARSITY = "Learning the sparsity for ReRAM"

CLAIMS = {
    "DATE 2019": {
        "baseline": "zero-insertion ReRAM accelerator",
        "speedup_vs_zp": (3.69, 31.15),
        "energy_reduction_vs_zp": (0.08, 0.8836),
    },
    "TCAD 2020": {
        "baseline": "ReRAM and CMOS deconvolution designs",
        "speedup": (4.0, 56.16),
        "energy_efficiency": (1.05, 18.17),
    },
    COMPRRAE: {
        "computations_removed": 0.70, "throughput": 2.8, "energy_efficiency": 2.9,
        "accuracy_loss": 0.002,
        "source": "CompRRAE (arXiv 2019), as summarised in RED_TILE.md",
    },
    SPARSITY: {
        "energy_efficiency": (3.0, 5.0), "speedup": (2.5, 6.0),
        "how": "weights clustered and reordered so that zeros fill whole crossbars, then "
               "crossbars pruned, at almost no accuracy loss",
        "source": "Learning the sparsity for ReRAM (ASP-DAC 2019), as summarised in "
                  "RED_TILE.md",
    },
}
