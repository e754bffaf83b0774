"""Tests for mailparse.subjects: prefix stripping, reply/forward detection, generic subjects."""

from __future__ import annotations

import pytest

from mailparse.subjects import (
    is_forward_subject,
    is_generic_subject,
    is_reply_subject,
    normalize_subject,
)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: AW: Fwd: Re[2]: hello", "hello"),
        ("RE: RE: RE: Budget 2025", "budget 2025"),
        ("re[2]: Budget", "budget"),
        ("RE[3]: Budget", "budget"),
        ("Re(2): Budget", "budget"),
        ("Re^2: Budget", "budget"),
        ("AW: Termin am Montag", "termin am montag"),
        ("WG: AW: Termin", "termin"),
        ("SV: Möte", "möte"),
        ("Antw: Offerte", "offerte"),
        ("Antwort: Angebot", "angebot"),
        ("Vs: Kokous", "kokous"),
        ("VS: Kokous", "kokous"),
        ("Ref: Dossier 12", "dossier 12"),
        ("Réf: Dossier", "dossier"),
        ("RIF: Preventivo", "preventivo"),
        ("R: Preventivo", "preventivo"),
        ("I: Preventivo", "preventivo"),
        ("Odp: Spotkanie", "spotkanie"),
        ("YNT: Toplantı", "toplantı"),
        ("回复：会议安排", "会议安排"),
        ("答复: 会议", "会议"),
        ("返信: 会議", "会議"),
        ("Fwd: Invoice", "invoice"),
        ("FW: Invoice", "invoice"),
        ("Fw: Invoice", "invoice"),
        ("TR : Réunion", "réunion"),
        ("RV: Reunión", "reunión"),
        ("Doorst: Vergadering", "vergadering"),
        ("ENC: Reunião", "reunião"),
    ],
)
def test_normalize_strips_reply_and_forward_prefixes(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[dev-list] Build broken", "build broken"),
        ("Re: [dev-list] Build broken", "build broken"),
        ("[dev-list] Re: [dev-list] Build broken", "build broken"),
        ("[EXTERNAL] RE: [ticket] Fwd: Build broken", "build broken"),
    ],
)
def test_normalize_strips_list_tags_between_prefixes(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("  Quarterly   Report\t Q3 ", "quarterly report q3"),
        ("Re:Quarterly Report", "quarterly report"),
        ("STRASSE Plans", "strasse plans"),
        ("Straße Plans", "strasse plans"),
    ],
)
def test_normalize_collapses_whitespace_and_casefolds(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Regarding the offer", "regarding the offer"),
        ("Trade: offer", "trade: offer"),
        ("Area 51: plans", "area 51: plans"),
        ("Meeting notes [draft]", "meeting notes [draft]"),
        ("Why Re: matters", "why re: matters"),
    ],
)
def test_normalize_keeps_look_alike_words_and_inner_text(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def test_normalize_same_for_thread_members() -> None:
    subjects = [
        "Project kickoff",
        "Re: Project kickoff",
        "AW: RE: project  KICKOFF",
        "Fwd: Re: Project kickoff",
    ]
    assert {normalize_subject(s) for s in subjects} == {"project kickoff"}


@pytest.mark.parametrize("subject", ["", "Re:", "[list]", "  "])
def test_normalize_empty_when_nothing_is_left(subject: str) -> None:
    assert normalize_subject(subject) == ""


@pytest.mark.parametrize(
    "subject",
    [
        "Re: hello",
        "RE[2]: hello",
        "AW: hallo",
        "[list] Re: hello",
        "回复：你好",
        "Antwort: x",
        "Re: Fwd: x",
    ],
)
def test_is_reply_true_when_subject_starts_with_reply_prefix(subject: str) -> None:
    assert is_reply_subject(subject)


@pytest.mark.parametrize(
    "subject", ["hello", "Fwd: Re: hello", "[list] hello", "Regarding hello", "", "Hello Re: x"]
)
def test_is_reply_false_without_leading_reply_prefix(subject: str) -> None:
    assert not is_reply_subject(subject)


@pytest.mark.parametrize(
    "subject", ["Fwd: hello", "FW: hello", "WG: hallo", "TR: salut", "[list] Fwd: x", "Fwd: Re: x"]
)
def test_is_forward_true_when_subject_starts_with_forward_prefix(subject: str) -> None:
    assert is_forward_subject(subject)


@pytest.mark.parametrize("subject", ["hello", "Re: Fwd: hello", "Forward planning", ""])
def test_is_forward_false_without_leading_forward_prefix(subject: str) -> None:
    assert not is_forward_subject(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "Question",
        "Re: hello",
        "Hi",
        "help!",
        "(no subject)",
        "test",
        "URGENT",
        "Meeting",
        "Thanks",
        "Thank you!",
        "info",
        "Inquiry",
        "Update",
        "Quick question",
        "Fwd: Re: Follow up",
        "[list] hello",
        "???",
        "Kein Betreff",
        "Frage",
    ],
)
def test_is_generic_true_for_stoplist_subjects(subject: str) -> None:
    assert is_generic_subject(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "Question about invoice 4471",
        "Hello world",
        "Meeting notes for Q3 planning",
        "Re: Budget 2025",
        "Quick question about the API rate limit",
        "Thanks for the contract draft review",
        "Test results",
    ],
)
def test_is_generic_false_for_specific_subjects(subject: str) -> None:
    assert not is_generic_subject(subject)


def test_is_generic_false_when_more_than_two_stoplist_words() -> None:
    # The stoplist only covers short subjects; three words are left to the threader.
    assert not is_generic_subject("Urgent: meeting update")
