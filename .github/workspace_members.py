"""Print the uv workspace members as a JSON list of {"name", "path"} for the CI matrix.

Reads the workspace root's ``[tool.uv.workspace] members`` globs and each member's
``pyproject.toml``, so adding a package folder adds it to CI with no list to keep.
"""

import glob
import json
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parents[1]
workspace = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
members = [{"name": "llmpath", "path": "tests"}]
for pattern in workspace["members"]:
    for folder in sorted(glob.glob(str(root / pattern))):
        pyproject = Path(folder) / "pyproject.toml"
        if pyproject.is_file():
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            members.append({"name": name, "path": str(Path(folder).relative_to(root))})
print(json.dumps(members))
