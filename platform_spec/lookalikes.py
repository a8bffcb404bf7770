"""Look-alike letters folded to the letters they imitate, for a second guardrail look (standard library only).

Bedrock's word filters block words and phrases by exact match
(https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-word-filters.html), and its sensitive
information filters look for patterns such as ``123-45-6789``. A caller who writes a blocked word in
full-width letters (U+FF50 U+FF52 ... for "pr..."), mathematical bold or script letters (U+1D429 ...),
circled letters, or with a Cyrillic o (U+043E) in a Latin word, or a number in full-width digits, sends
text the model reads as the blocked word while the exact match does not see it. Nothing here is refused
or rewritten: the model gets the caller's text as sent (full-width letters are ordinary in Japanese and
Chinese writing); :func:`fold` gives a copy with the imitations replaced, which the orchestrator has the
guardrail check as well (``ApplyGuardrail``, source INPUT) when it differs.

The fold:

1. Unicode compatibility characters are replaced by what they are compatible with (NFKC, one character at a
   time: https://www.unicode.org/reports/tr15/): full-width and half-width forms, mathematical alphanumerics,
   circled and parenthesized letters, ligatures (U+FB01 for "fi"), superscript and subscript letters and
   digits.
2. Cyrillic, Greek and Armenian letters that look like Latin ones (:data:`CONFUSABLES`, the single-letter prototypes of
   Unicode's confusables list, https://www.unicode.org/Public/security/latest/confusables.txt) become those
   Latin letters inside a word that also has a Latin letter: a mixed-script word, Unicode's main sign of a
   spoofed word (https://www.unicode.org/reports/tr39/#Mixed_Script_Detection). A word written wholly in
   Cyrillic is left alone (it is Cyrillic; a whole-script imitation of a Latin word is not caught here),
   and so are look-alikes from other scripts (Cherokee, Arabic-Indic digits, ...): the table is the
   scripts a Latin spoof is most often written in, not all of confusables.txt.
3. A dash or minus sign between two letters or digits becomes ``-`` ("project" U+2010 "bluebird").
4. Combining marks of the script-neutral blocks (U+0300-U+036F, U+1AB0-U+1AFF, U+1DC0-U+1DFF, U+20D0-U+20FF,
   U+FE20-U+FE2F) are dropped, before rule 2: the underline, strikethrough and enclosing-circle "styles" that
   text generators put after every letter (U+0332, U+0336, U+20DD) and an accent written as a mark of its
   own leave the letters a reader and the model read under them, which the exact match does not see. A
   mark dropped after an ASCII character is a reason for a second look; after another letter it is not
   (an accent in decomposed Cyrillic or Vietnamese text), unless rule 2 then finds a spoofed word.

:func:`fold` returns ``None`` unless the fold produced a Latin letter or a digit, a hyphen by rule 3, or
dropped a mark after an ASCII character by rule 4:
text whose only compatibility characters are no-break spaces, ellipses, superscript digits (square
metres) and the like needs no second look, so ordinary text costs no extra guardrail call.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

#: Cyrillic, Greek and Armenian letters drawn like one Latin letter, with that letter: the single-letter
#: prototypes of confusables.txt, but a capital I shape (Cyrillic U+0406, Greek U+0399) folds to "I", what a
#: reader takes it for, where the skeleton's prototype is "l".
CONFUSABLES: Final[dict[str, str]] = {
    # Cyrillic
    "\u0410": "A", "\u0430": "a", "\u0412": "B", "\u042c": "b", "\u0421": "C", "\u0441": "c", "\u0501": "d",
    "\u0415": "E", "\u0435": "e", "\u04bd": "e", "\u050c": "G", "\u041d": "H", "\u04bb": "h", "\u0406": "I",
    "\u0456": "i", "\u04cf": "i", "\u0408": "J", "\u0458": "j", "\u041a": "K", "\u04c0": "l", "\u041c": "M",
    "\u041e": "O", "\u043e": "o", "\u0420": "P", "\u0440": "p", "\u051b": "q", "\u0405": "S", "\u0455": "s",
    "\u0422": "T", "\u0474": "V", "\u0475": "v", "\u051c": "W", "\u051d": "w", "\u0461": "w", "\u0425": "X",
    "\u0445": "x", "\u0423": "Y", "\u04ae": "Y", "\u0443": "y", "\u04af": "y",
    # Greek
    "\u0391": "A", "\u03b1": "a", "\u0392": "B", "\u03f9": "C", "\u03f2": "c", "\u0395": "E", "\u0397": "H",
    "\u0399": "I", "\u03b9": "i", "\u037f": "J", "\u03f3": "j", "\u039a": "K", "\u039c": "M", "\u039d": "N",
    "\u039f": "O", "\u03bf": "o", "\u03c3": "o", "\u03a1": "P", "\u03c1": "p", "\u03a4": "T", "\u03c5": "u",
    "\u03bd": "v", "\u03a7": "X", "\u03a5": "Y", "\u03b3": "y", "\u0396": "Z",
    # Armenian
    "\u0570": "h", "\u0578": "n", "\u0555": "O", "\u0585": "o", "\u054f": "S", "\u054d": "U", "\u057d": "u",
    # a Latin letter outside ASCII (not the dotless i: Turkish writes it in Latin words)
    "\u0261": "g",
}  # fmt: skip

#: Dashes (Unicode's Pd category and the minus signs) that a reader takes for a hyphen inside a word.
_DASH_IN_WORD: Final = re.compile(r"(?<=[^\W_])[\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d](?=[^\W_])")
#: A word (letters and digits) with a character outside ASCII in it.
_NON_ASCII_WORD: Final = re.compile(r"[^\W_]*[^\x00-\x7f][^\W_]*")
_NON_ASCII: Final = re.compile(r"[^\x00-\x7f]")
#: Runs of combining marks from the script-neutral blocks (Combining Diacritical Marks, its Extended and
#: Supplement blocks, the marks for symbols, the half marks): rule 4.
_MARKS: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
#: Compatibility tags whose digits keep a meaning of their own (square metres, a chemical formula, a
#: fraction): folded, but not a reason for a second look on their own.
_NOTATION_TAGS: Final = ("<super>", "<sub>", "<fraction>")


@lru_cache(maxsize=4096)
def _compatible(char: str) -> tuple[str, bool]:
    """``char`` under NFKC, and whether that is a letter or digit a filter could match (rule 1)."""
    folded = unicodedata.normalize("NFKC", char)
    if folded == char:
        return char, False
    notation = unicodedata.decomposition(char).startswith(_NOTATION_TAGS)
    return folded, any(c.isascii() and (c.isalpha() or (c.isdigit() and not notation)) for c in folded)


def fold(text: str) -> str | None:
    """``text`` with look-alike letters, digits and hyphens replaced (module docstring), or ``None`` if the
    fold changes no letter, digit or hyphen."""
    if text.isascii():
        return None
    significant = False

    def compatible(match: re.Match[str]) -> str:
        nonlocal significant
        folded, letter = _compatible(match.group())
        significant = significant or letter
        return folded

    def mixed_script(match: re.Match[str]) -> str:
        nonlocal significant
        word = match.group()
        if not any(c.isascii() and c.isalpha() for c in word):
            return word
        latin = "".join(CONFUSABLES.get(c, c) for c in word)
        significant = significant or latin != word
        return latin

    def marks(match: re.Match[str]) -> str:
        nonlocal significant
        before = match.string[match.start() - 1] if match.start() else " "
        significant = significant or (before.isascii() and not before.isspace())
        return ""

    def hyphen(match: re.Match[str]) -> str:
        nonlocal significant
        significant = True
        return "-"

    folded = _NON_ASCII.sub(compatible, text)
    folded = _MARKS.sub(marks, folded)
    folded = _NON_ASCII_WORD.sub(mixed_script, folded)
    folded = _DASH_IN_WORD.sub(hyphen, folded)
    return folded if significant else None
