"""The data flows a layer can run in, below both the analytical model and the RTL.

- ``red``: RED's pixel-wise mapping with zero-skipping (the tile's native flow);
- ``zp``: zero-insertion, the input upsampled with zeros and convolved (baseline);
- ``pf``: padding-free, every input pixel times the whole kernel, overlapping outputs
  added (baseline).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["Mode", "MODES", "RTL_MODES"]

Mode = Literal["red", "zp", "pf"]

#: Every data flow, in the order reports list them.
MODES: tuple[Mode, ...] = get_args(Mode)

#: The data flows the RTL tile runs (all of them); the RTL's mode codes
#: (``red.rtl.layouts``) encode these.
RTL_MODES: tuple[Mode, ...] = MODES
