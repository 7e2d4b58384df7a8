"""Procedures: the file format, its parser and ``ground proc check``.

The grammar, the meaning of each step and what the checker refuses are in
docs/PROCEDURES.md. In short: one step per line (``send``, ``expect ... within``,
``wait``, ``confirm``, ``if/else/end``, ``abort``, ``abort-on``, ``on-abort/end``),
``#`` comments, ``title`` and ``param`` headers, ``$NAME`` for a param's value;
every name is the dictionary's, as every tool shows it (``state == ARMED``,
``inputs has RBF_REMOVED,PERMIT``), numbers in the unit shown.

``parse`` gives a ``Procedure`` for one set of param values or raises
``ProcedureError`` listing every mistake with its line; ``check`` runs ``parse``
for every param value (a long range: its ends and default) and adds what a
reviewer must not miss: unreachable steps, and a hazardous send that no
``confirm`` precedes (one go/no-go per hazardous command).
"""

import datetime
import hashlib
import itertools
import operator
import os
import re
import shlex
from dataclasses import dataclass, field

from firmware import dictionary as d
from ground import codec
from ground.errors import UsageError

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}
_SET_OPS = ("has", "lacks")
_GLUED = re.compile(r"^(\w+)(==|!=|<=|>=|<|>|=)(.+)$")  # slot=2, state==ARMED
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|ms|min)?$")
_UNITS = {"s": 1.0, "ms": 0.001, "min": 60.0}
_VARIABLE = re.compile(r"\$([A-Z][A-Z0-9_]*)")
NOW = ("NOW_DAYS", "NOW_MS")  # filled in as a send runs
_CHECKED_VALUES = 16  # a param with more values is checked at its ends and default
_REPORTS = {t.name: t for t in d.TELEMETRY if t.service not in (d.SVC_VERIFICATION, d.SVC_EVENT)}
_EVENTS = {e.name: e for e in d.EVENTS}
_CDS_EPOCH = datetime.datetime(1958, 1, 1, tzinfo=datetime.UTC)
# What operators fly: checked by make proc-check, flown by make hil, offered by the consoles' panels.
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "procedures")


class ProcedureError(UsageError):
    """A procedure that does not parse or check; ``errors`` are ``file:line: message`` lines."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = errors


# --- conditions ---------------------------------------------------------------------


def _fixed(layout):
    """The fields of a layout that every record has (not SCHEDULE's repeated ones)."""
    return {f.name: f for f in itertools.takewhile(lambda f: f.code != "*", layout)}


@dataclass(frozen=True)
class Comparison:
    """``field OP value`` against one record; ``want`` is raw (a name's value, a bit mask),
    a number in the unit shown, or text (a count per slot, a command's name)."""

    field: d.Field
    op: str
    want: object
    text: str

    def holds(self, values):
        raw = values.get(self.field.name)
        if raw is None:
            return False
        f = self.field
        if self.op == "has":
            return raw & self.want == self.want
        if self.op == "lacks":
            return raw & self.want == 0
        if isinstance(self.want, str):
            return _OPS[self.op](codec.render(f, raw, values), self.want)
        if f.names is not None or self.want == f.invalid:
            return _OPS[self.op](raw, self.want)
        if raw == f.invalid:
            return False  # no reading satisfies a number
        return _OPS[self.op](raw * codec.scaling(f)[0], self.want)

    def shown(self, values):
        """The field's value in the record, as every tool shows it."""
        name = self.field.name
        return "%s=%s" % (name, codec.render(self.field, values[name], values) if name in values else "?")


class Condition:
    """What an ``expect``, ``if`` or ``abort-on`` looks for in one telemetry record."""

    def __init__(self, report, event, comparisons, text):
        self.report = report  # HK, PONG, PARAM, TIME, SCHEDULE, or None for an event
        self.event = event
        self.comparisons = comparisons
        self.text = text

    @property
    def is_hk(self):
        return self.report == "HK"

    def __call__(self, rec):
        if rec.error or (self.event and rec.event != self.event) or (self.report and rec.name != self.report):
            return False
        return all(c.holds(rec.values) for c in self.comparisons)

    def shown(self, rec):
        """The record as far as this condition is concerned: the fields compared of a HK report
        (``HK state=SAFE``), every field of another (``EVENT RELEASED slot=2 attempt=1``)."""
        if self.is_hk:
            parts = dict.fromkeys(c.shown(rec.values) for c in self.comparisons)
        else:
            parts = ("%s=%s" % (name, text) for name, text, _bad in rec.rendered())
        return " ".join([rec.title(), *parts])

    def __str__(self):
        return self.text


def _number(text):
    try:
        return float(int(text, 0))
    except ValueError:
        return float(text)


def _names_value(f, op, value):
    """The raw value (or text) that ``value`` names for a field shown by names."""
    names = f.names
    if names.kind == d.BITS:
        if op not in ("==", "!=") + _SET_OPS:
            raise ValueError("%s is a set: use has, lacks, == or !=" % f.name)
        if value == "-" and op in _OPS:
            return 0
        items = value.upper().split(",")
        unknown = [i for i in items if i not in names.names]
        if unknown:
            raise ValueError("%s: %r is not one of %s" % (f.name, unknown[0], "|".join(names.names)))
        return sum(1 << names.names.index(i) for i in items)
    if op in _SET_OPS:
        raise ValueError("%s is one value, not a set: use == or !=" % f.name)
    if op not in ("==", "!="):
        raise ValueError("%s is compared by name: use == or !=" % f.name)
    if names.kind == d.COUNTS:
        pattern = ",".join("%s:\\d+" % n for n in names.names)
        if not re.fullmatch(pattern, value):
            raise ValueError("%s is written like %s (slot:count for every slot), got %r" % (
                f.name, ",".join("%s:0" % n for n in names.names), value))
        return value
    if names.kind == d.COMMAND:
        if d.command(value.upper()) is None:
            raise ValueError("%s: %r is not a command" % (f.name, value))
        return value.upper()
    raw = names.value_of(value)
    if raw is None or value.strip().lstrip("-").isdigit():
        raise ValueError("%s is one of %s, got %r" % (f.name, "|".join(
            ([names.zero] if names.zero else []) + list(names.names)), value))
    return raw


def _comparison(fields, name, op, value, where):
    f = fields.get(name)
    if f is None:
        raise ValueError("%s has no field %r (it has: %s)" % (where, name, " ".join(fields) or "none"))
    op = "==" if op == "=" else op
    if f.names is not None:
        return Comparison(f, op, _names_value(f, op, value), "%s %s %s" % (name, op, value))
    if op in _SET_OPS:
        raise ValueError("%s is a number: has and lacks are for sets" % name)
    if value.upper() == "INVALID" and f.invalid is not None and op in ("==", "!="):
        return Comparison(f, op, f.invalid, "%s %s INVALID" % (name, op))
    try:
        want = _number(value)
    except ValueError:
        raise ValueError("%s is a number%s, got %r" % (name, " in " + codec.scaling(f)[1] if f.unit else "", value))
    return Comparison(f, op, want, "%s %s %s" % (name, op, value))


def _comparisons(fields, words, where):
    out = []
    i = 0
    while i < len(words):
        word = words[i]
        glued = _GLUED.match(word)
        if word == "and" and out:
            i += 1
            continue
        if glued:
            out.append(_comparison(fields, glued[1], glued[2], glued[3], where))
            i += 1
        elif i + 2 < len(words) and (words[i + 1] in _OPS or words[i + 1] in _SET_OPS):
            out.append(_comparison(fields, word, words[i + 1], words[i + 2], where))
            i += 3
        else:
            raise ValueError("expected FIELD OP VALUE (like state == ARMED), got %r" % " ".join(words[i:]))
    return out


def condition(words):
    """The Condition of ``HK ...``, ``event NAME ...`` or ``REPORT ...``; ValueError says what is wrong."""
    if not words:
        raise ValueError("expected a condition: HK FIELD OP VALUE, event NAME, or a report (%s)" % " ".join(
            n for n in _REPORTS if n != "HK"))
    head, rest = words[0], list(words[1:])
    text = " ".join(words)
    if head == "event":
        if not rest or rest[0].upper() not in _EVENTS:
            raise ValueError("unknown event %r (see: ground dictionary)" % (rest[0] if rest else ""))
        ev = _EVENTS[rest[0].upper()]
        return Condition(None, ev.name, _comparisons(_fixed(ev.fields), rest[1:], "event " + ev.name), text)
    report = _REPORTS.get(head.upper())
    if report is None:
        raise ValueError("unknown report %r: a condition starts with HK, event, or one of %s" % (
            head, " ".join(n for n in _REPORTS if n != "HK")))
    comparisons = _comparisons(_fixed(report.fields), rest, report.name)
    if report.name == "HK" and not comparisons:
        raise ValueError("HK needs a comparison, like HK state == SAFE")
    return Condition(report.name, None, comparisons, text)


# --- steps --------------------------------------------------------------------------


@dataclass
class Step:
    line: int
    source: str  # the line as written, params filled in, comment dropped


@dataclass
class Send(Step):
    command: str = ""
    args: tuple = ()  # as written; $NOW_DAYS and $NOW_MS are filled in when it runs
    within: float | None = None  # s to completion; None: the client's verification timeout
    fails: str | None = None  # the failure it must end with, by name
    hazardous: bool = False


@dataclass
class Expect(Step):
    condition: Condition | None = None
    within: float = 0.0


@dataclass
class Wait(Step):
    seconds: float = 0.0


@dataclass
class Confirm(Step):
    text: str = ""


@dataclass
class If(Step):
    condition: Condition | None = None
    body: list = field(default_factory=list)
    orelse: list = field(default_factory=list)


@dataclass
class Abort(Step):
    text: str = ""


@dataclass
class AbortOn(Step):
    condition: Condition | None = None


@dataclass(frozen=True)
class Param:
    name: str
    values: tuple  # every value it may take, as text
    default: str | None

    def usage(self):
        lo, hi = self.values[0], self.values[-1]
        ints = all(v.lstrip("-").isdigit() for v in self.values)
        return "%s=%s" % (self.name, "%s..%s" % (lo, hi) if ints and len(self.values) > 2 else "|".join(self.values))


@dataclass
class Procedure:
    name: str  # the file's name
    text: str
    sha256: str
    title: str
    params: dict  # name -> Param
    values: dict  # name -> the value this parse used
    steps: list
    on_abort: list

    def plan(self):
        """(line, text) of each line of the step list as the runner shows it (None: no step of its own)."""
        out = []

        def block(steps, depth):
            for step in steps:
                out.append((step.line, "  " * depth + step.source))
                if isinstance(step, If):
                    block(step.body, depth + 1)
                    if step.orelse:
                        out.append((None, "  " * depth + "else"))
                        block(step.orelse, depth + 1)
                    out.append((None, "  " * depth + "end"))

        block(self.steps, 0)
        if self.on_abort:
            out.append((None, "on-abort: if the procedure stops early"))
            block(self.on_abort, 1)
        return out


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def now_values(t):
    """{NOW_DAYS, NOW_MS} for the UTC time ``t`` (s since the Unix epoch): CDS days and ms of day."""
    since = datetime.datetime.fromtimestamp(t, datetime.UTC) - _CDS_EPOCH
    return {"NOW_DAYS": str(since.days), "NOW_MS": str(since.seconds * 1000 + since.microseconds // 1000)}


def fill(word, values):
    """``word`` with each ``$NAME`` replaced by ``values[NAME]``; KeyError names one unknown."""
    return _VARIABLE.sub(lambda m: values[m[1]], word)


def duration(words):
    """Seconds of ``5 s``, ``500 ms``, ``2 min`` or ``5s``; the words it took."""
    m = _DURATION.match(words[0]) if words else None
    if m and m[2]:
        return float(m[1]) * _UNITS[m[2]], 1
    if m and len(words) > 1 and words[1] in _UNITS:
        return float(m[1]) * _UNITS[words[1]], 2
    raise ValueError("expected a duration like 5 s, 500 ms or 2 min, got %r" % " ".join(words))


# --- parser -------------------------------------------------------------------------


class _Parser:
    """One parse: the words of every line and the params (``errors`` collects every mistake)."""

    def __init__(self, name, text):
        self.name = name
        self.errors = []
        self.title = ""
        self.lines = []  # (line number, words)
        for number, raw in enumerate(text.splitlines(), 1):
            try:
                words = shlex.split(raw, comments=True)
            except ValueError as e:
                self.error(number, "a quote is not closed" if "quotation" in str(e) else str(e))
                continue
            if words:
                self.lines.append((number, words))
        self.params = {}
        for number, words in self.lines:
            if words[0] == "param":
                try:
                    p = _param(words[1:])
                except ValueError as e:
                    self.error(number, str(e))
                    continue
                if p.name in self.params or p.name in NOW:
                    self.error(number, "param %s is already defined" % p.name)
                self.params[p.name] = p

    def error(self, line, message):
        self.errors.append("%s:%d: %s" % (self.name, line, message))

    def bind(self, given):
        """The value of every param: given (as text) or its default; UsageError if one is missing or wrong."""
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise UsageError("%s has no param %s (its params: %s)" % (
                self.name, unknown[0], " ".join(p.usage() for p in self.params.values()) or "none"))
        values = {}
        for name, p in self.params.items():
            value = given.get(name, p.default)
            if value is None:
                raise UsageError("%s takes param %s: give it as %s" % (self.name, name, p.usage()))
            if str(value) not in p.values:
                raise UsageError("%s: param %s=%s is not one of %s" % (self.name, name, value, p.usage()))
            values[name] = str(value)
        return values

    def steps(self, values):
        """(steps, on-abort steps) with these param values."""
        top, on_abort, stack = [], None, []  # stack: [opening step, the list its steps go to]
        seen_step = False
        known = dict(values, **{n: "$" + n for n in NOW})
        for number, words in self.lines:
            try:
                words = [fill(w, known) for w in words]
            except KeyError as e:
                self.error(number, "unknown $%s (params: %s)" % (e.args[0], " ".join(self.params) or "none"))
                continue
            verb = words[0]
            try:
                if verb in ("title", "param"):
                    if seen_step:
                        raise ValueError("%s belongs before the first step" % verb)
                    if verb == "title":
                        self.title = _text(words[1:], "title")
                elif verb == "end":
                    if not stack:
                        raise ValueError("end without if or on-abort")
                    stack.pop()
                elif verb == "else":
                    if not stack or not isinstance(stack[-1][0], If) or stack[-1][1] is stack[-1][0].orelse:
                        raise ValueError("else without if")
                    stack[-1][1] = stack[-1][0].orelse
                elif verb == "on-abort":
                    if stack or on_abort is not None:
                        raise ValueError("on-abort is one block, at the top level")
                    on_abort = []
                    stack.append([Step(number, "on-abort"), on_abort])
                    seen_step = True
                else:
                    step = _step(number, verb, words[1:])
                    if isinstance(step, AbortOn) and stack:
                        raise ValueError("abort-on belongs at the top level: it holds from its line on")
                    (stack[-1][1] if stack else top).append(step)
                    if isinstance(step, If):
                        stack.append([step, step.body])
                    seen_step = True
            except ValueError as e:
                self.error(number, str(e))
        for opener, _steps in stack:
            self.error(opener.line, "%s has no end" % opener.source.split()[0])
        return top, on_abort or []


def _step(number, verb, words):
    texts = verb in ("confirm", "abort")
    source = " ".join([verb] + ['"%s"' % w if texts or " " in w or not w else w for w in words])
    if verb == "send":
        return _send(number, source, words)
    if verb == "expect":
        if "within" not in words:
            raise ValueError("expect needs a time limit: expect ... within 5 s")
        i = words.index("within")
        return Expect(number, source, condition(words[:i]), _duration_only(words[i + 1:]))
    if verb == "wait":
        return Wait(number, source, _duration_only(words))
    if verb == "confirm":
        return Confirm(number, source, _text(words, "confirm"))
    if verb == "abort":
        return Abort(number, source, _text(words, "abort"))
    if verb == "if":
        return If(number, source, condition(words))
    if verb == "abort-on":
        return AbortOn(number, source, condition(words))
    raise ValueError("unknown step %r: send, expect, wait, confirm, if/else/end, abort, abort-on, on-abort" % verb)


def _send(number, source, words):
    fails = within = None
    if "fails" in words:
        i = words.index("fails")
        if len(words) != i + 2 or not d.FAILURE_NAMES.value_of(words[i + 1]):
            raise ValueError("fails takes one failure name (%s), last on the line" % "|".join(d.FAILURE_NAMES.names))
        fails, words = words[i + 1].upper(), words[:i]
    if "within" in words:
        i = words.index("within")
        within, words = _duration_only(words[i + 1:]), words[:i]
    if not words:
        raise ValueError("send needs a command")
    args = tuple(words[1:])
    try:
        tc = codec.build(words[0], [fill(a, now_values(0)) for a in args], lambda: 0)
    except UsageError as e:
        raise ValueError(str(e))
    return Send(number, source, tc.name, args, within, fails, tc.hazardous)


def _duration_only(words):
    seconds, used = duration(words)
    if used != len(words):
        raise ValueError("nothing may follow the duration, got %r" % " ".join(words[used:]))
    return seconds


def _text(words, verb):
    if len(words) != 1:
        raise ValueError('%s takes one quoted text: %s "..."' % (verb, verb))
    return words[0]


def _param(words):
    """``NAME LO..HI`` or ``NAME in A B C``, then ``default V``."""
    default = None
    if len(words) >= 2 and words[-2] == "default":
        default, words = words[-1], words[:-2]
    if not words or not re.fullmatch(r"[A-Z][A-Z0-9_]*", words[0]):
        raise ValueError("param takes a NAME in capitals, then LO..HI or in VALUE...")
    name, rest = words[0], words[1:]
    m = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", rest[0]) if len(rest) == 1 else None
    if m and int(m[1]) <= int(m[2]):
        values = tuple(str(v) for v in range(int(m[1]), int(m[2]) + 1))
    elif len(rest) >= 2 and rest[0] == "in":
        values = tuple(rest[1:])
    else:
        raise ValueError("param %s: give its values as LO..HI or in A B C" % name)
    if default is not None and default not in values:
        raise ValueError("param %s: default %s is not one of its values" % (name, default))
    return Param(name, values, default)


def parse(text, name="procedure", values=None):
    """The Procedure ``text`` describes with these param ``values`` (text by name; defaults for the rest).

    UsageError for a param missing or out of its values, ProcedureError for a file that does not parse.
    """
    p = _Parser(name, text)
    values = p.bind(values or {})
    steps, on_abort = p.steps(values)
    if p.errors:
        raise ProcedureError(p.errors)
    base = os.path.basename(name)
    return Procedure(base, text, digest(text), p.title or base, p.params, values, steps, on_abort)


def read(path):
    """The text of procedure file ``path``; UsageError if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError("cannot read procedure %s: %s" % (path, e))


def load(path, values=None, name=None):
    """The Procedure in file ``path`` with these param ``values``, fit to fly: UsageError listing
    every mistake if it does not check (nothing is flown that ``ground proc check`` refuses).
    ``name``: what the messages call it (default: ``path``)."""
    text, name = read(path), name or path
    mistakes = check(text, name)
    if mistakes:
        raise UsageError("%s does not check, so it is not flown:\n%s" % (name, "\n".join(mistakes)))
    return parse(text, name, values)


def shipped():
    """The file names of the shipped procedures (in ``SHIPPED``), sorted."""
    return sorted(n for n in os.listdir(SHIPPED) if n.endswith(".proc"))


def find(name):
    """The path of procedure ``name``: a shipped one by its file name (``.proc`` may be left out), else a file."""
    shipped_name = name if name.endswith(".proc") else name + ".proc"
    if os.sep not in name and shipped_name in shipped():
        return os.path.join(SHIPPED, shipped_name)
    return name


def usage(path):
    """``deploy-one.proc SLOT=1..4``: the procedure in file ``path`` as a person starts it."""
    params = _Parser(path, read(path)).params
    return " ".join([os.path.basename(path)] + [p.usage() for p in params.values()])


def param_values(words):
    """{NAME: VALUE} of ``NAME=VALUE`` words (``-p`` options, or as typed in a console)."""
    pairs = [w.partition("=") for w in words]
    bad = [w for w, (_n, eq, _v) in zip(words, pairs, strict=True) if not eq]
    if bad:
        raise UsageError("a param's value is NAME=VALUE, got %r" % bad[0])
    return {n: v for n, _eq, v in pairs}


# --- checker ------------------------------------------------------------------------


def _bindings(params):
    """Every set of values ``check`` parses with (a long range: its ends and default)."""
    choices = []
    for p in params.values():
        values = p.values if len(p.values) <= _CHECKED_VALUES else (p.values[0], p.values[-1], p.default)
        choices.append([(p.name, v) for v in dict.fromkeys(values) if v is not None])
    return [dict(c) for c in itertools.product(*choices)]


def check(text, name="procedure"):
    """Every mistake in a procedure, as ``file:line: message`` lines in line order (none: fit to run).

    A mistake that only some param values make says which.
    """
    bindings = _bindings(_Parser(name, text).params)
    found = {}  # message -> the bindings it appears under
    for values in bindings:
        p = _Parser(name, text)
        steps, on_abort = p.steps(values)
        errors = p.errors or _review(name, steps, on_abort)
        for message in errors:
            found.setdefault(message, []).append(values)
    out = []
    for message, where in found.items():
        if len(where) < len(bindings):
            message += " (with %s)" % "; ".join(" ".join("%s=%s" % kv for kv in v.items()) for v in where)
        out.append(message)
    return sorted(out, key=lambda m: int(m[len(name) + 1:].split(":", 1)[0]))


def _review(name, steps, on_abort):
    """What parses but must not be flown: unreachable steps, a hazardous send without its go/no-go,
    an on-abort block that waits for a person or aborts again."""
    errors = []

    def error(step, message):
        errors.append("%s:%d: %s" % (name, step.line, message))

    if not steps:
        errors.append("%s:1: no steps" % name)
    for block in (steps, on_abort):
        _reachable(block, error)
    _confirmed(steps, False, error)
    for step in _flat(on_abort):
        if isinstance(step, Confirm | Abort) or (isinstance(step, Send) and step.hazardous):
            error(step, "on-abort runs unattended to make the payload safe: no %s in it" % step.source.split()[0]
                  + (" (hazardous)" if isinstance(step, Send) else ""))
    return errors


def _flat(steps):
    for step in steps:
        yield step
        if isinstance(step, If):
            yield from _flat(step.body + step.orelse)


def _ends(step):
    """True if the procedure never goes past ``step``."""
    return isinstance(step, Abort) or (isinstance(step, If) and bool(step.orelse) and any(map(_ends, step.body))
                                       and any(map(_ends, step.orelse)))


def _reachable(steps, error):
    for i, step in enumerate(steps):
        if isinstance(step, If):
            _reachable(step.body, error)
            _reachable(step.orelse, error)
        if _ends(step) and i + 1 < len(steps):
            error(steps[i + 1], "unreachable: the procedure has ended at line %d" % step.line)
            return


def _confirmed(steps, confirmed, error):
    """Whether a go/no-go is in hand after ``steps`` (None: they end the procedure); each hazardous
    send uses up the confirm before it."""
    for step in steps:
        if isinstance(step, Confirm):
            confirmed = True
        elif isinstance(step, Send) and step.hazardous:
            if not confirmed:
                error(step, "hazardous %s without a confirm before it (one go/no-go per hazardous command)"
                      % step.command)
            confirmed = False
        elif isinstance(step, If):
            after = [c for c in (_confirmed(step.body, confirmed, error), _confirmed(step.orelse, confirmed, error))
                     if c is not None]
            if not after:
                return None
            confirmed = all(after)
        elif isinstance(step, Abort):
            return None
    return confirmed
