"""The one exception type that reaches a user as a single line (CLI: stderr + exit 2; server: 4xx)."""


class UserError(Exception):
    """Bad input from the user: a file, a flag, a request. The message is shown as is, on one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
