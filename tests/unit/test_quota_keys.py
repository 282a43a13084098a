"""Quota identities: no spelling a reader cannot tell apart makes a new organization or e-mail."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkeys.credentials.quota_keys import IGNORABLE, email_key, organization_key
from agentkeys.validation import BLANK_SYMBOLS

IGNORABLES = [
    chr(code)
    for code in range(sys.maxunicode + 1)
    if not 0xD800 <= code <= 0xDFFF and IGNORABLE.fullmatch(chr(code))
]
FULLWIDTH_OFFSET = 0xFEE0
# Every compatibility form of an ASCII letter or digit (full-width, mathematical, circled,
# letterlike symbols...), from Unicode's own decomposition data.
COMPATIBLE: dict[str, list[str]] = {}
for _code in range(0x80, sys.maxunicode + 1):
    _form = unicodedata.normalize("NFKC", chr(_code))
    if len(_form) == 1 and _form.isascii() and _form.isalnum():
        COMPATIBLE.setdefault(_form, []).append(chr(_code))
COMBINING_MARKS = [
    chr(code)
    for code in range(sys.maxunicode + 1)
    if unicodedata.category(chr(code)) in {"Mn", "Me"}
]


def test_the_unicode_data_is_the_librarys_not_a_short_list() -> None:
    # Default_Ignorable_Code_Point and Cf together hold well over 4,000 code points.
    assert len(IGNORABLES) > 4000
    for character in "\u200b\u200d\u00ad\u202e\ufeff\u2060\u180e\U000e0001":
        assert character in IGNORABLES


@st.composite
def with_ignorables(draw: st.DrawFn, text: str) -> str:
    characters = list(text)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        position = draw(st.integers(min_value=0, max_value=len(characters)))
        characters.insert(position, draw(st.sampled_from(IGNORABLES)))
    return "".join(characters)


@given(st.data(), st.text(max_size=40))
def test_inserted_ignorable_characters_never_make_a_new_organization(
    data: st.DataObject, name: str
) -> None:
    assert organization_key(data.draw(with_ignorables(name))) == organization_key(name)


@given(st.data(), st.text(max_size=20), st.text(max_size=20))
def test_inserted_ignorable_characters_never_make_a_new_email(
    data: st.DataObject, local: str, domain: str
) -> None:
    address = f"{local}@{domain}"
    spoofed = f"{data.draw(with_ignorables(local))}@{data.draw(with_ignorables(domain))}"
    assert email_key(spoofed) == email_key(address)


ASCII_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")


@st.composite
def case_and_width_variant(draw: st.DrawFn, text: str) -> str:
    variant = []
    for character in text:
        form = draw(st.sampled_from(["same", "swap", "fullwidth", "compatible"]))
        if form == "swap":
            variant.append(character.swapcase())
        elif form == "fullwidth" and character != " ":
            variant.append(chr(ord(character) + FULLWIDTH_OFFSET))
        elif form == "compatible" and character in COMPATIBLE:
            variant.append(draw(st.sampled_from(COMPATIBLE[character])))
        else:
            variant.append(character)
    return "".join(variant)


def test_compatibility_forms_come_from_unicode_data() -> None:
    assert "\u211a" in COMPATIBLE["Q"]  # double-struck Q
    assert "\U0001d400" in COMPATIBLE["A"]  # mathematical bold A
    assert len(COMPATIBLE["a"]) > 15


@pytest.mark.parametrize(
    "mark",
    [
        "\U0001171e",  # a combining mark in Python's Unicode data, spacing in newer data
        "\u0301",
        "\u20dd",  # enclosing
    ],
)
def test_a_combining_mark_alone_or_inside_a_name_adds_nothing(mark: str) -> None:
    assert organization_key(mark) == organization_key("") == ""
    assert organization_key(f"Acme{mark} Power") == organization_key("Acme Power")


@given(st.data(), st.text(max_size=30))
def test_inserted_combining_marks_never_make_a_new_organization(
    data: st.DataObject, name: str
) -> None:
    characters = list(name)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(characters)))
        characters.insert(position, data.draw(st.sampled_from(COMBINING_MARKS)))

    assert organization_key("".join(characters)) == organization_key(name)


@given(st.data(), ASCII_NAMES.filter(str.strip))
def test_case_and_width_variants_are_one_organization(data: st.DataObject, name: str) -> None:
    assert organization_key(data.draw(case_and_width_variant(name))) == organization_key(name)


@given(st.data(), ASCII_NAMES.filter(lambda text: text.strip() and " " not in text))
def test_case_and_width_variants_are_one_email(data: st.DataObject, local: str) -> None:
    variant = data.draw(case_and_width_variant(local))
    assert email_key(f"{variant}@Example.COM") == email_key(f"{local}@example.com")


@given(st.text(max_size=40))
def test_a_key_is_its_own_key(name: str) -> None:
    key = organization_key(name)
    assert organization_key(key) == key


SAME_ORGANIZATION = [
    "QUOTA ORG A",
    "quota org a",
    "  Quota   Org\tA ",
    "Quo\u200bta Org A",
    "Quo\u200dta Org A",
    "Quo\u00adta Org A",
    "Quo\u202eta Org A",
    "\ufeffQuota Org A",
    "\uff31uota Org A",  # Quota: full width
    "\u211auota Org A",  # Quota: double-struck
    "Quota\u00a0Org A",  # no-break space
    "Quota\u3000Org A",  # ideographic space
    "Quota Org A.",
    "Quota Org A,",
    "Quota Org A...!",
    "Quota - Org A",
    "Qu\u043eta \u041erg \u0410",  # Cyrillic o, O, A
    "Qu\u03bfta Org A",  # Greek omicron
    "Quo\u0301ta Org A\u0308",  # combining accents
    "Quóta Org Ä",  # precomposed accents
]


@pytest.mark.parametrize("variant", SAME_ORGANIZATION)
def test_every_listed_spelling_is_the_same_organization(variant: str) -> None:
    assert organization_key(variant) == organization_key("Quota Org A") == "quota org a"


def test_long_s_and_sharp_s_fold() -> None:
    assert organization_key("\u017fpace") == organization_key("Space")
    assert organization_key("Stra\u00dfe") == organization_key("STRASSE")


@pytest.mark.parametrize(
    "different",
    ["Quota Org B", "Quota Org", "Quota Org AA", "Other Org A", "Quota Org A2"],
)
def test_different_names_stay_different(different: str) -> None:
    assert organization_key(different) != organization_key("Quota Org A")


SAME_EMAIL = [
    "User@Example.com",
    "USER@EXAMPLE.COM",
    "user+1@example.com",
    "user+anything+more@example.com",
    "\uff55ser@example.com",  # user: full width
    "us\u200ber@example.com",
    "user@exa\u00admple.com",
    "user@example.com.",
    "u\u0455\u0435r@example.com",  # Cyrillic s and e
]


@pytest.mark.parametrize("variant", SAME_EMAIL)
def test_every_listed_spelling_is_the_same_email(variant: str) -> None:
    assert email_key(variant) == email_key("user@example.com") == "user@example.com"


@pytest.mark.parametrize(
    "variant",
    [
        "user@gmail.com",
        "u.ser@gmail.com",
        "u.s.e.r@gmail.com",
        "user@googlemail.com",
        "us.er+tag@googlemail.com",
        "user@GMAIL.COM",
        "user@GMA\u0130L.com",  # GMAIL: capital I with dot above
        "user@gm\u0430il.com",  # Cyrillic a
    ],
)
def test_gmail_spellings_are_one_mailbox(variant: str) -> None:
    assert email_key(variant) == "user@gmail.com"


def test_dots_count_where_the_provider_does_not_ignore_them() -> None:
    assert email_key("u.ser@example.com") != email_key("user@example.com")


@pytest.mark.parametrize(
    "variant",
    ["user@b\u00fccher.example", "user@B\u00dcCHER.example", "user@xn--bcher-kva.example"],
)
def test_internationalized_domains_have_one_form(variant: str) -> None:
    assert email_key(variant) == email_key("user@bücher.example")


def test_the_rule_is_a_pure_module() -> None:
    probe = (
        "import sys, agentkeys.credentials.quota_keys; "
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'starlette') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# Characters that render blank without being whitespace, ignorable or format characters, and
# the Latin small capitals NFKC leaves alone: found in Unicode's own data (names), not listed.
BLANK_RENDERING = [
    chr(code)
    for code in range(sys.maxunicode + 1)
    if not 0xD800 <= code <= 0xDFFF
    and (chr(code) in BLANK_SYMBOLS or unicodedata.category(chr(code)) == "Zs")
]
SMALL_CAPITALS: dict[str, list[str]] = {}
for _code in range(0x80, 0x20000):
    _name = unicodedata.name(chr(_code), "")
    if _name.startswith("LATIN LETTER SMALL CAPITAL ") and len(_name) == 28:  # one letter
        SMALL_CAPITALS.setdefault(_name[-1].lower(), []).append(chr(_code))


def test_the_blank_and_small_capital_data_come_from_unicode() -> None:
    for character in "\u2800\ufffc\U0001d159\u3000\u00a0":
        assert character in BLANK_RENDERING
    assert "\u1d00" in SMALL_CAPITALS["a"]  # ᴀ
    assert "\u0280" in SMALL_CAPITALS["r"]  # ʀ
    assert len(SMALL_CAPITALS) >= 20


@st.composite
def blank_and_small_capital_variant(draw: st.DrawFn, text: str) -> str:
    """Each space written as any character that renders blank (more at the ends), and each
    letter possibly as its small capital."""
    variant = [draw(st.sampled_from(BLANK_RENDERING)) for _ in range(draw(st.integers(0, 2)))]
    for character in text:
        if character == " ":
            variant.append(draw(st.sampled_from(BLANK_RENDERING)))
        elif character.lower() in SMALL_CAPITALS and draw(st.booleans()):
            variant.append(draw(st.sampled_from(SMALL_CAPITALS[character.lower()])))
        else:
            variant.append(character)
    variant += [draw(st.sampled_from(BLANK_RENDERING)) for _ in range(draw(st.integers(0, 2)))]
    return "".join(variant)


@given(st.data(), ASCII_NAMES.filter(str.strip))
def test_blank_symbols_and_small_capitals_never_make_a_new_organization(
    data: st.DataObject, name: str
) -> None:
    variant = data.draw(blank_and_small_capital_variant(name))
    assert organization_key(data.draw(with_ignorables(variant))) == organization_key(name)


@pytest.mark.parametrize(
    "variant",
    [
        "Quota\u2800Org A",  # braille pattern blank
        "Quota Org A\ufffc",  # object replacement character
        "Quota \U0001d159Org A",  # musical symbol null notehead
        "Quota Org \u1d00",  # small capital A
        "\ua7afuota \u1d0f\u0280\u0262 \u1d00",  # small capitals Q, O, R, G, A
    ],
)
def test_blank_symbols_and_small_capitals_are_the_same_organization(variant: str) -> None:
    assert organization_key(variant) == "quota org a"


@pytest.mark.parametrize(
    "name", ["\u2800", "\ufffc\U0001d159", "...", "\u200b.\u200b", "-\u00ad-", "\u3164!"]
)
def test_a_name_of_punctuation_and_invisible_characters_has_no_identity(name: str) -> None:
    assert organization_key(name) == ""
