"""Procedures the ground server flies for a client that has no runner of its own (a browser):
the ``proc_start``, ``proc_answer`` and ``proc_stop`` requests (docs/GROUND.md).

A flight is ``ground proc run ground://`` inside the server: a thread with a Client of this
server, under its owner's operator name (the two-person rule sees one person), takes command
authority over from the owner who asked for the run (logged, as any takeover), flies the
Runner and, at the END, gives authority back to the owner if it still holds it. The run is
recorded as any client's run through a server (the client's ``log``). Every entry goes to
every client as a ``procedure`` message, which says whether a question waits; a client that
joins gets the run's so far. Only the owner (its operator name: a browser that reloads keeps
its run) answers a question (``Question.answer``: judged by the runner, with ground/hazard.py
for a hazardous command) or stops the run; if nobody answers, another operator taking command
authority over ends it (the runner stops FAILED when its client loses authority; its on-abort
steps cannot command then: the new holder makes safe).
Only the shipped procedures are flown (a browser names one, never a file of the server's).
"""

import threading
import time

from ground import procedure, protocol, runner
from ground.client import Client
from ground.errors import AuthorityError, GroundError, UsageError


class Flight:
    """One run for ``owner`` (a Peer) on ``server``; the server's loop calls every method but
    ``_fly``, ``ask`` and ``_entry`` (the run's thread)."""

    def __init__(self, server, owner, name, params):
        if name not in procedure.shipped():
            raise UsageError("no shipped procedure %s (there are: %s)" % (name, " ".join(procedure.shipped())))
        if not isinstance(params, dict):
            raise TypeError("params must be an object: {NAME: VALUE}")
        self.server = server
        self.owner = owner
        self.proc = procedure.load(procedure.find(name), {str(k): str(v) for k, v in params.items()}, name)
        self.lines = []  # every procedure message of the run, for a joining client
        self.question = None  # the one waiting for the owner's answer
        self.ended = False
        self._runner = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fly, name="flight", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self, peer):
        self._own(peer, "stop")
        self._stop.set()
        if self._runner is not None:
            self._runner.stop()

    def answer(self, peer, text):
        self._own(peer, "answer")
        question = self.question
        if question is None or question.done.is_set():
            raise UsageError("%s asks nothing now" % self.proc.name)
        question.answer(str(text))

    def _own(self, peer, what):
        """The owner's operator name, on any connection: a browser that reloads keeps its run."""
        if peer.operator != self.owner.operator:
            raise UsageError("only %s, who started %s, may %s it" % (self.owner.operator, self.proc.name, what))

    def line(self, entry):
        """The procedure message of ``entry`` (a dict: t, kind, line, text)."""
        asking = self.question if self.question is not None and not self.question.done.is_set() else None
        return protocol.encode({"type": "procedure", "procedure": self.proc.name, "owner": self.owner.name,
                                "operator": self.owner.operator,
                                "run": self._runner.run_id if self._runner else None, **entry,
                                "asking": asking.prompt if asking else None,
                                "hazardous": bool(asking and asking.expected)})

    # --- the run's thread -------------------------------------------------------------------

    def _fly(self):
        s = self.server
        holder = None  # the flight's client, once it holds command authority
        try:
            with Client(s.url, name=self.owner.operator, timeout=s.core.timeout, retries=s.core.retries,
                        token=s.authority.token) as client:
                if client.authority != self.owner.name:  # only the owner's authority is taken over
                    raise AuthorityError("command authority went to %s before %s began" % (
                        client.authority or "nobody", self.proc.name))
                client.take(force=True)
                holder = client.name
                self._runner = runner.Runner(self.proc, client, self, sinks=[self._entry],
                                             about={"link": s.link_url, "flown by the ground server for":
                                                    self.owner.name})
                if self._stop.is_set():
                    self._runner.stop()
                self._runner.run()
                s._soon(s._flight_ended, self, holder)  # before the client leaves, with its authority
                holder = None
        except GroundError as e:
            self._entry(runner.Entry(time.time(), "END", None, "not flown: %s" % e))
        finally:  # whatever happened, the server may fly the next one
            if not self.ended:
                s._soon(s._flight_ended, self, holder)

    def ask(self, question):
        self.question = question  # the ASK entry that follows tells every client

    def _entry(self, entry):
        self.server._soon(self.server._flight_entry, self,
                          {"t": entry.t, "kind": entry.kind, "line": entry.line, "text": entry.text})
