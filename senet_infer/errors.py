"""The one exception type for problems a user can cause and fix."""


class PipelineError(Exception):
    """A user-facing failure: printed as one line (naming the file and the problem), exit status 2."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a library's own error, quoted in one line), or its type's name
    when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cannot_list(folder: object, exc: OSError) -> PipelineError:
    """``<folder>: cannot list folder: <reason>``: a folder that exists but cannot be read."""
    return PipelineError(f"{folder}: cannot list folder: {exc.strerror or exc}")
