import os
import sys
from pathlib import Path

import pytest
import torch

# Triton kernels run under Triton's CPU interpreter (exact, slow) when no GPU is present; the variable must
# be set before any kernel module is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR))

# Tests are small and exact; deterministic single-threaded-ish math keeps them reproducible on 2 cores.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
