"""Command authority and the two-person rule: who may command the payload through the server.

The rules are written once, in docs/GROUND.md ("Command authority"); this module keeps
their state (the holder, the commands held for a second person) and says yes or no, and
ground/server.py applies them. Clients are any objects with a ``name`` (unique, as every
client shows it), an ``operator`` (the name the client gave) and ``remote`` (True: it is not
on loopback); they are told apart by identity (one connection, one client), and a second
person by ``operator``.
"""

import hmac
import itertools
from dataclasses import dataclass

from ground.errors import AuthorityError, UsageError

APPROVAL_TIMEOUT = 120.0  # s a held command waits for its second person
WAITING = "WAITING"
APPROVED = "APPROVED"
EXPIRED = "EXPIRED"
CANCELLED = "CANCELLED"


class Authority:
    """Who holds command authority. ``token``: required of every client to take it or approve
    (None: of none); ``remote_token``: required of a client not on loopback when ``token`` is None."""

    def __init__(self, token=None, remote_token=None):
        self.token = token
        self.remote_token = remote_token
        self.holder = None

    def needed(self, client):
        """The token ``client`` must give, or None."""
        return self.token if self.token is not None or not client.remote else self.remote_token

    def check_token(self, client, token, what):
        needed = self.needed(client)
        if needed is not None and not hmac.compare_digest(str(token or ""), needed):
            raise AuthorityError("%s needs this server's token (%s)%s" % (
                what, "GROUND_TOKEN" if self.token is not None else "from another machine: the one it printed at start",
                ": the one given is wrong" if token else ""))

    def take(self, client, force=False, token=None):
        """Give ``client`` authority; returns the log line (None if it held it already)."""
        self.check_token(client, token, "command authority")
        previous = self.holder
        if previous is client:
            return None
        if previous is not None and not force:
            raise AuthorityError("command authority is held by %s (take it over with force)" % previous.name)
        self.holder = client
        if previous is None:
            return "command authority taken by %s" % client.name
        return "command authority taken over from %s by %s (forced)" % (previous.name, client.name)

    def release(self, client, left=False):
        """``client`` gives authority up (``left``: it disconnected); the log line, or None."""
        if self.holder is not client:
            return None
        self.holder = None
        return ("command authority free: %s left" if left else "command authority released by %s") % client.name

    def check(self, client):
        """AuthorityError unless ``client`` may command now."""
        if self.holder is not client:
            holder = self.holder.name if self.holder else "nobody"
            raise AuthorityError("%s does not hold command authority (held by %s): take it first" % (
                client.name, holder))


@dataclass
class Approval:
    """A hazardous command held for its second person."""

    number: int
    owner: object  # the client that sent it
    command: object  # what is held (the server's record of the command)
    text: str  # what it will do, in words
    answer: str  # what the second person types to approve it
    deadline: float
    state: str = WAITING
    by: object = None  # the client that approved it


class Approvals:
    """Commands held under the two-person rule, by number."""

    def __init__(self, timeout=APPROVAL_TIMEOUT):
        self.timeout = timeout
        self.waiting = {}
        self._numbers = itertools.count(1)

    def hold(self, owner, command, confirmation, now):
        a = Approval(next(self._numbers), owner, command, confirmation.text, confirmation.answer, now + self.timeout)
        self.waiting[a.number] = a
        return a

    def approve(self, number, client, now):
        """``client`` approves held command ``number``; the Approval, now APPROVED."""
        a = self.waiting.get(number)
        if a is None or a.deadline <= now:
            raise UsageError("no command waits for approval number %s" % number)
        if client is a.owner or client.operator == a.owner.operator:
            raise AuthorityError("the second person must be another operator than %s, who sent it" % a.owner.name)
        del self.waiting[number]
        a.state, a.by = APPROVED, client
        return a

    def expire(self, now):
        """The approvals past their deadline, now EXPIRED."""
        return self._end([a for a in self.waiting.values() if a.deadline <= now], EXPIRED)

    def withdraw(self, approval):
        """``approval`` taken back by its sender: the Approval, now CANCELLED."""
        return self._end([approval], CANCELLED)[0]

    def cancel(self, owner):
        """The approvals ``owner`` waits for (it lost authority), now CANCELLED."""
        return self._end([a for a in self.waiting.values() if a.owner is owner], CANCELLED)

    def _end(self, ended, state):
        for a in ended:
            del self.waiting[a.number]
            a.state = state
        return ended
