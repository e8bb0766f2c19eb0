"""The one exception type for problems a user can cause and fix."""


class PipelineError(Exception):
    """A user-facing failure: printed as one line (naming the file and the problem), exit status 2."""
