"""Workspace-wide test settings: no test may wait on the Hugging Face hub (unreachable offline).

The settings are llmpath_core.testing's, the same each package's conftest applies when its tests
run alone; the markers and the per-package time table come from llmpath_core's pytest plugin.
"""

from llmpath_core.testing import use_offline_env

use_offline_env()
