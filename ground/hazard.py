"""What a hazardous telecommand will do, in words, and what the operator types to send it.

One place for every tool: the console shows ``text`` and sends only once the
operator has typed ``answer``; ``ground send --yes`` prints ``text`` as it sends;
the Client's refusal of an unconfirmed hazardous command quotes it; the web
console and procedures call ``confirmation`` for the same words. The words are
the dictionary's (each hazardous Command's ``confirm``) filled in with the
arguments; the answer is the argument that says what will be released, as it is
typed (the slot list itself: ``1,2``), or the command's name when it has none
(``ARM``), so that a number typed out of habit cannot confirm something else.

    >>> from ground import codec
    >>> c = confirmation(codec.build("FIRE_SEQUENCE", ["1,2", "0"], lambda: 0))
    >>> c.text, c.answer
    ('FIRE_SEQUENCE 1,2 0: release slots 1 and 2, in that order, 0 s apart', '1,2')
"""

from dataclasses import dataclass

from firmware import dictionary as d
from ground import codec


@dataclass(frozen=True)
class Confirmation:
    text: str  # the command as typed, then what it will do
    answer: str  # what the operator types to send it

    def accepts(self, typed):
        """True if ``typed`` is the answer (case and spaces aside)."""
        return "".join(str(typed).split()).upper() == self.answer.upper()


def confirmation(tc):
    """The Confirmation of telecommand ``tc``, or None if it is not hazardous."""
    if not tc.hazardous:
        return None
    words, answer = _what(tc)
    return Confirmation("%s: %s" % (tc, words), answer)


def _what(tc):
    """(what ``tc`` does in words, the answer that confirms it)."""
    entry = tc.entry
    values = dict(zip((f.name for f in entry.args), tc.args, strict=False))
    words = {f.name: _words(f, values[f.name]) for f in entry.args if f.code != "tc"}
    if "days" in values and "ms" in values:
        words["time"] = codec.format_obt(values["days"], values["ms"])
    nested = next((v for v in tc.args if isinstance(v, codec.Telecommand)), None)
    if nested is not None:
        words["command"], answer = _what(nested)
    else:
        answer = codec.arg_text(_arg(entry, entry.answer), values[entry.answer]) if entry.answer else entry.name
    return entry.confirm.format(**words), answer


def _arg(entry, name):
    return next(f for f in entry.args if f.name == name)


def _words(f, value):
    """An argument as a sentence says it: ``1, 2 and 4`` for a set, ``10 s``."""
    if f.names is not None and f.names.kind == d.BITS:
        items = f.names.text(value).split(",")
        return items[0] if len(items) == 1 else "%s and %s" % (", ".join(items[:-1]), items[-1])
    return codec.render(f, value)
