"""Look-alike letters fold to the letters they imitate; ordinary text in any script needs no second look."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_spec.lookalikes import CONFUSABLES, fold

BLOCKED = "project-bluebird"


@pytest.mark.parametrize(
    ("imitation", "how"),
    [
        ("ｐｒｏｊｅｃｔ-ｂｌｕｅｂｉｒｄ", "full-width letters"),
        ("ｐｒｏｊｅｃｔ－ｂｌｕｅｂｉｒｄ", "full-width letters and hyphen"),
        ("𝐩𝐫𝐨𝐣𝐞𝐜𝐭-𝐛𝐥𝐮𝐞𝐛𝐢𝐫𝐝", "mathematical bold"),
        ("𝓅𝓇ℴ𝒿ℯ𝒸𝓉-bluebird", "mathematical script, letterlike symbols"),
        ("ⓟⓡⓞⓙⓔⓒⓣ-ⓑⓛⓤⓔⓑⓘⓡⓓ", "circled letters"),
        ("pr\u043eject-bluebird", "a Cyrillic o in a Latin word"),
        ("pr\u03bfject-bluebird", "a Greek omicron in a Latin word"),
        ("\u0440roject-blu\u0435bird", "Cyrillic er and ie"),
        ("project\u2010bluebird", "U+2010 hyphen"),
        ("project\u2212bluebird", "a minus sign"),
        ("project\u2013bluebird", "an en dash"),
        # combining marks on ASCII letters: the underline, strikethrough and enclosing "styles" of text
        # generators, and an accent written as a mark of its own; read as the letters under them
        ("".join(c + "\u0332" for c in BLOCKED), "underlined (combining low line)"),
        ("".join(c + "\u0336" for c in BLOCKED), "struck through (combining long stroke overlay)"),
        ("".join(c + "\u20dd" for c in BLOCKED), "enclosing circles"),
        ("proje\u0301ct-bluebird\u0308", "accents as combining marks"),
        ("ｐ\u0332ｒ\u0332oject-bluebird", "full-width letters underlined"),
        ("pr\u043e\u0332ject-bluebird", "an underlined Cyrillic o in a Latin word"),
    ],
)
def test_an_imitation_of_a_blocked_word_folds_to_the_word(imitation: str, how: str) -> None:
    assert fold(f"What about {imitation}?") == f"What about {BLOCKED}?", how


def test_full_width_digits_fold_so_a_number_pattern_can_match() -> None:
    assert fold("SSN １２３－４５－６７８９ please") == "SSN 123-45-6789 please"


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII text with a project name.",
        "日本語の就業規則について教えてください。",  # Japanese: no compatibility letters
        "Какой у меня отпуск? А с учётом стажа?",  # Russian, with one-letter words that look Latin
        "Η πολιτική άδειας ισχύει από το 2024.",  # Greek
        "E = mc², ½ cup, CO₂, 10 µm… naïve café résumé",  # notation, micro sign, ellipsis, accents
        "Dates: 2020 \u2013 2021, and \u2014 an aside",  # dashes between spaces
        "Price\u00a0100\u00a0EUR",  # no-break spaces
    ],
)
def test_ordinary_text_needs_no_second_look(text: str) -> None:
    assert fold(text) is None


def test_full_width_letters_in_japanese_text_are_folded_without_changing_the_rest() -> None:
    # ordinary in Japanese writing; folded for the guardrail's look, the model still gets the original
    assert fold("ＡＩの活用について") == "AIの活用について"


def test_a_word_wholly_in_cyrillic_is_left_alone() -> None:
    # "рос" is Russian; only a mixed-script word is a spoof by this rule (whole-script imitations are not caught)
    assert fold("рос и сосна") is None


def test_every_confusable_maps_to_one_ascii_letter() -> None:
    assert all(len(latin) == 1 and latin.isascii() and latin.isalpha() for latin in CONFUSABLES.values())
    assert not any(char.isascii() for char in CONFUSABLES)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_text_is_never_folded(text: str) -> None:
    assert fold(text) is None


@given(st.text())
def test_a_folded_text_is_a_fixed_point(text: str) -> None:
    # folding what was folded changes nothing more: the second look sees the final form at once
    folded = fold(text)
    if folded is not None:
        assert fold(folded) in (None, folded)


def test_turkish_and_vietnamese_latin_letters_are_not_look_alikes() -> None:
    assert fold("Kırmızı kalem nerede? Tiếng Việt có dấu.") is None
