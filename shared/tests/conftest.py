"""llmpath-core's tests run offline, like every package's (see llmpath_core.testing)."""

from llmpath_core.testing import use_offline_env

use_offline_env()
