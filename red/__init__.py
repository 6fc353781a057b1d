"""red: RTL generator and co-simulation framework for the RED ReRAM deconvolution
accelerator."""

import os

# The golden model's matrix products are many small BLAS calls, and the simulator,
# pytest's two workers and the golden model share two cores: OpenBLAS's worker threads
# then wait on busy cores. Measured on a 128x128 layer while another simulation ran:
# 10.8 s with OpenBLAS's default threads, 0.15 s with one. Set before numpy loads;
# an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
