"""User-facing errors: each carries one line that names the file or option at fault."""


class NossError(Exception):
    """An error the CLI reports as a single line with a non-zero exit."""


class AudioError(NossError):
    """An audio file that cannot be decoded or holds no samples."""
