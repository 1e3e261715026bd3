"""The one exception type that means "the user asked for something that cannot be done".

Library code raises :class:`UserError` (or a subclass) for bad input: a missing file, a wrong
format, an impossible option. The CLI layer (:mod:`llmpath_core.cli`) turns it into one clear line
on stderr and exit code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the message says what was wrong and how to fix it."""


__all__ = ["UserError"]
