"""The one exception type of the ground (``GroundError``) and its kinds.

Each kind carries the process exit code the CLI returns for it, so the CLI
catches ``GroundError`` once, prints ``ground: message`` and exits with
``err.exit_code``. Exit codes (also in ``ground --help``):

    0  success
    1  the command failed or was refused by the payload
    2  usage: wrong arguments, unknown command, missing confirmation
    3  link: the port cannot be opened or dropped
    4  verification timeout: no report in time, outcome unknown
"""

OK = 0
FAILED = 1
USAGE = 2
LINK = 3
TIMEOUT = 4


class GroundError(Exception):
    """Anything an operator or a script can cause; never a traceback."""

    exit_code = FAILED


class UsageError(GroundError):
    exit_code = USAGE


class AuthorityError(UsageError):
    """A command or an approval from a client without command authority (ground server)."""


class LinkError(GroundError):
    exit_code = LINK


class CommandFailed(GroundError):
    exit_code = FAILED


class VerificationTimeout(GroundError):
    exit_code = TIMEOUT
