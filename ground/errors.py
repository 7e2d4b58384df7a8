"""The one exception type of the ground (``GroundError``) and its kinds.

Each kind carries the process exit code the CLI returns for it, so the CLI
catches ``GroundError`` once, prints ``ground: message`` and exits with
``err.exit_code``. Exit codes (``ground --help``; each subcommand's help lists
the ones it can return):

    0  success
    1  the command failed or was refused by the payload
    2  usage: wrong arguments, unknown command, missing confirmation, bad URL or file
    3  link: the port cannot be opened, is taken by another tool, or dropped
    4  verification timeout: no report in time, outcome unknown
    5  local: a file cannot be written, or the tool itself failed (the console crashed)
"""

OK = 0
FAILED = 1
USAGE = 2
LINK = 3
TIMEOUT = 4
LOCAL = 5


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


class LocalError(GroundError):
    exit_code = LOCAL
