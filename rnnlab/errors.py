"""The one error type rnnlab raises for anything a user can fix.

The CLI catches `RnnlabError` at its boundary and prints its message as one line with
exit code 2; every other exception is a bug in rnnlab and keeps its traceback.
"""


class RnnlabError(Exception):
    """A user error: bad config, missing data, mismatched checkpoint, bad prefix."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))  # always one line
