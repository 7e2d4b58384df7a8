"""Command authority and the two-person rule (ground/authority.py), without a server."""

import pytest

from ground import codec, hazard
from ground.authority import APPROVED, CANCELLED, EXPIRED, WAITING, Approvals, Authority
from ground.errors import AuthorityError, UsageError


class Client:
    def __init__(self, name, remote=False):
        self.name = name
        self.operator = name.split(" ", 1)[1]  # the server numbers the names clients give
        self.remote = remote  # not on loopback


ALICE, BOB, CAROL = Client("#1 console alice@desk"), Client("#2 console bob@desk"), Client("#3 carol")
FIRE = codec.build("FIRE", [2], lambda: 5)


def test_nobody_commands_until_authority_is_taken():
    a = Authority()
    with pytest.raises(AuthorityError, match="alice@desk does not hold command authority .held by nobody.: take it"):
        a.check(ALICE)
    assert a.take(ALICE) == "command authority taken by #1 console alice@desk"
    a.check(ALICE)
    with pytest.raises(AuthorityError, match="held by #1 console alice@desk"):
        a.check(BOB)


def test_taking_authority_from_its_holder_is_refused_unless_forced_and_a_forced_take_over_says_so():
    a = Authority()
    a.take(ALICE)
    with pytest.raises(AuthorityError, match="command authority is held by #1 console alice@desk .take it over"):
        a.take(BOB)
    assert a.holder is ALICE
    assert a.take(BOB, force=True) == ("command authority taken over from #1 console alice@desk by "
                                       "#2 console bob@desk (forced)")
    assert a.holder is BOB


def test_taking_authority_again_changes_nothing_and_logs_nothing():
    a = Authority()
    a.take(ALICE)
    assert a.take(ALICE) is None and a.take(ALICE, force=True) is None and a.holder is ALICE


def test_only_the_holder_releases_authority_and_leaving_frees_it():
    a = Authority()
    a.take(ALICE)
    assert a.release(BOB) is None and a.holder is ALICE
    assert a.release(ALICE, left=True) == "command authority free: #1 console alice@desk left"
    assert a.holder is None
    a.take(BOB)
    assert a.release(BOB) == "command authority released by #2 console bob@desk"


def test_a_server_with_a_token_gives_authority_only_to_a_client_that_presents_it():
    a = Authority(token="s3cret")
    with pytest.raises(AuthorityError, match=r"needs this server's token \(GROUND_TOKEN\)$"):
        a.take(ALICE)
    with pytest.raises(AuthorityError, match="the one given is wrong"):
        a.take(ALICE, token="guess")
    with pytest.raises(AuthorityError, match="wrong"):
        a.take(ALICE, force=True, token="guess")
    assert a.holder is None
    assert a.take(ALICE, token="s3cret")


def test_without_a_server_token_only_a_client_beyond_loopback_needs_the_token_printed_at_start():
    a = Authority(remote_token="printed")
    remote = Client("#4 web dave@10.0.0.7", remote=True)
    with pytest.raises(AuthorityError, match=r"needs this server's token \(from another machine: the one it printed"):
        a.take(remote)
    with pytest.raises(AuthorityError, match="the one given is wrong"):
        a.take(remote, token="guess")
    assert a.take(ALICE) == "command authority taken by #1 console alice@desk"  # on loopback
    assert a.take(remote, force=True, token="printed")
    assert (a.needed(ALICE), a.needed(remote)) == (None, "printed")
    assert Authority(token="s3cret", remote_token="printed").needed(remote) == "s3cret"  # --token: everyone's


def _held(approvals, owner=ALICE, now=0.0):
    return approvals.hold(owner, "the command", hazard.confirmation(FIRE), now)


def test_a_held_command_says_what_it_does_and_how_to_confirm_it():
    a = _held(Approvals())
    assert a.state == WAITING and a.text.startswith("FIRE 2: release slot 2") and a.answer == "2"


def test_a_held_command_is_approved_only_by_another_operator_and_only_once():
    approvals = Approvals()
    a = _held(approvals)
    with pytest.raises(AuthorityError, match="another operator than #1 console alice@desk"):
        approvals.approve(a.number, ALICE, 1.0)
    with pytest.raises(AuthorityError, match="another operator"):
        approvals.approve(a.number, Client("#4 console alice@desk"), 1.0)  # a second connection, same operator
    assert approvals.approve(a.number, BOB, 1.0) is a and (a.state, a.by) == (APPROVED, BOB)
    with pytest.raises(UsageError, match="no command waits for approval number %d" % a.number):
        approvals.approve(a.number, CAROL, 1.0)


def test_a_held_command_expires_after_its_timeout_and_can_no_longer_be_approved():
    approvals = Approvals(timeout=10)
    a = _held(approvals, now=100.0)
    assert approvals.expire(109.9) == [] and a.state == WAITING
    with pytest.raises(UsageError):
        approvals.approve(a.number, BOB, 110.0)
    assert approvals.expire(110.0) == [a] and a.state == EXPIRED and not approvals.waiting


def test_the_commands_of_an_owner_who_loses_authority_are_cancelled_and_no_one_elses():
    approvals = Approvals()
    mine, theirs = _held(approvals, ALICE), _held(approvals, CAROL)
    assert approvals.cancel(ALICE) == [mine] and mine.state == CANCELLED
    assert list(approvals.waiting.values()) == [theirs] and theirs.number != mine.number
