"""Quota identities: the key under which an organization or an e-mail is counted. Pure.

Two names that a person reads as the same must count as one, or a quota is sidestepped by
writing the name differently (a zero-width space, a full-width ``Q``, ``Quota Org.``, a
Cyrillic ``o``).
The name as given is kept for display and the ledger; only the key is normalised.

Organization key, step by step (the Unicode data comes from the ``regex`` module and the
``confusable_homoglyphs`` package, not from a table kept here):

1. drop every ``Default_Ignorable_Code_Point`` and format (``Cf``) character (zero-width
   space and joiner, soft hyphen, bidi controls, BOM...), before and after each normalisation;
2. NFKC and case-fold (full-width, mathematical and other compatibility forms, long s, sharp s),
   repeated until stable;
3. decompose (NFKD), drop combining marks (``Mn``, ``Me``), recompose (NFKC), before and
   after case-folding (folding turns some marks into letters): an accented ``e`` is ``e``,
   and ``GMAIL`` with a dotted capital I is ``gmail``;
4. map each non-ASCII character that is confusable with exactly one ASCII letter or digit to
   it (Cyrillic a, e, o, Greek omicron...), and each Latin small capital (``ᴀ``, ``ʙ``: letters
   NFKC leaves alone; found by their Unicode names) to its letter: the skeleton a reader sees;
5. read the symbols that render blank (braille blank, object replacement, null notehead:
   ``validation.BLANK_SYMBOLS``) as spaces, collapse every run of whitespace and punctuation
   to one space and trim the ends, so ``Org A.``, ``Org A,``, ``Org⠀A`` and ``Org  -  A`` are
   ``org a``. A name whose key is empty (only invisible characters and punctuation) is refused
   by the request's validation: it names no organization.

E-mail key: the local part and the domain are split at the last ``@``; both get steps 1-4; the
local part loses its ``+tag``; the domain is put in one IDNA form (A-labels, UTS #46 mapping,
no trailing dot); provider aliases are merged (``googlemail.com`` → ``gmail.com``), and dots
in the local part are dropped at providers known to ignore them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import unicodedata
from functools import cache, lru_cache
from importlib import resources

import idna
import regex

from agentkeys.validation import BLANK_SYMBOLS

# Characters a reader never sees: Unicode Default_Ignorable_Code_Point and general category Cf.
IGNORABLE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{Cf}]+")
_MARKS = regex.compile(r"[\p{Mn}\p{Me}]+")
_SEPARATORS = regex.compile(r"[\p{White_Space}\p{P}\p{Z}" + regex.escape(BLANK_SYMBOLS) + "]+")
_SMALL_CAPITAL = regex.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z]+)")

# Providers whose mailboxes ignore dots in the local part, and domains that are one mailbox.
DOTS_IGNORED = frozenset({"gmail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


@cache
def _skeleton_table() -> dict[int, str]:
    """Non-ASCII characters confusable with exactly one ASCII letter or digit → that character."""
    data = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    table: dict[int, str] = {}
    for character, homoglyphs in json.loads(data).items():
        if len(character) != 1 or character.isascii():
            continue
        ascii_ones = {
            glyph["c"].casefold()
            for glyph in homoglyphs
            if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum()
        }
        if len(ascii_ones) == 1:
            table[ord(character)] = ascii_ones.pop()
    # Small capitals have no compatibility decomposition, and the confusables data pairs some
    # with other scripts only (``ᴀ`` with a Cherokee letter): their names say which letter.
    for code in range(0x80, 0x20000):
        found = _SMALL_CAPITAL.fullmatch(unicodedata.name(chr(code), ""))
        if found is not None:
            table[code] = found[1].lower()
    return table


# Built when the module loads (~0.1 s), not on the first request that needs it.
_SKELETON = _skeleton_table()


def _drop_ignorable(text: str) -> str:
    return str(IGNORABLE.sub("", text))


def _marks_table() -> dict[int, None]:
    return {
        code: None
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in {"Mn", "Me"}
    }


# Combining marks by Python's own Unicode data, the version NFKD decomposes by (~0.1 s to
# build). The regex library's data is newer and the two disagree on a few characters (U+1171E
# is a mark in one, spacing in the other): a character either counts as a combining mark goes.
_PYTHON_MARKS = _marks_table()


def _drop_marks(text: str) -> str:
    """Decompose (NFKD) and drop combining marks; callers recompose."""
    return str(_MARKS.sub("", unicodedata.normalize("NFKD", text))).translate(_PYTHON_MARKS)


def _fold(text: str) -> str:
    """Steps 1-4: ignorables gone, NFKC + case-fold to a fixed point, marks gone, skeleton."""
    previous = None
    while text != previous:
        previous = text
        # Marks go before case-folding too: folding turns some marks into letters (U+0345).
        text = _drop_marks(_drop_ignorable(text))
        text = _drop_ignorable(unicodedata.normalize("NFKC", text).casefold())
        text = _drop_marks(text)
        text = unicodedata.normalize("NFKC", text).translate(_SKELETON)
    return text


# Each identity is folded twice per decision (the body's validation, then the quotas) and the
# same names and domains come back (one team's agents): the last few thousand are kept. Pure
# functions of bounded text (255 and 320 characters at most), so a miss only costs the fold.
IDENTITIES_KEPT = 4096


@lru_cache(maxsize=IDENTITIES_KEPT)
def organization_key(name: str) -> str:
    """The quota identity of an organization name (see the module docstring)."""
    collapsed: str = _SEPARATORS.sub(" ", _fold(name))
    return collapsed.strip()


@lru_cache(maxsize=IDENTITIES_KEPT)
def _domain_key(domain: str) -> str:
    text = unicodedata.normalize("NFKC", _drop_ignorable(domain)).casefold().strip().rstrip(".")
    # A-labels (xn--...) back to Unicode first, so both spellings fold the same way.
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        text = idna.decode(text)
    folded = _fold(text)
    try:
        ascii_form = idna.encode(folded, uts46=True).decode("ascii")
    except idna.IDNAError:
        # Not a valid IDNA name (the request's syntax check is looser): count it as written.
        ascii_form = folded
    return DOMAIN_ALIASES.get(ascii_form, ascii_form)


@lru_cache(maxsize=IDENTITIES_KEPT)
def email_key(address: str) -> str:
    """The quota identity of an e-mail address (see the module docstring)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return _fold(address)
    local = _fold(local).split("+", 1)[0]
    domain = _domain_key(domain)
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"
