"""The robustness matrix: every policy on a family of data shapes, not one generator's habits.

Cells cross sampling interval (1 s .. 4 h), artefact bursts (rate, share the
device flags, length) and missingness over the labelled cohort
(`monitor.cohort.shapes`). A fixed, documented split marks which cells may be
used to choose settings (dev) and which are held out. `run_matrix` is what
`wardwatch evaluate --matrix` calls.
"""

from alerts.evaluation.matrix.cells import ARTEFACTS, SAMPLING_S, Cell, Split, build_cells
from alerts.evaluation.matrix.results import MatrixReport
from alerts.evaluation.matrix.run import run_matrix

__all__ = ["ARTEFACTS", "SAMPLING_S", "Cell", "MatrixReport", "Split", "build_cells", "run_matrix"]
