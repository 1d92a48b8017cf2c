"""Search snippets cut in Python (kg.snippet): where the window falls, what is marked, what is left alone."""

from __future__ import annotations

import re

from kg import snippet
from kg.search import split_marks

MARKS = ("[", "]")


def marked(piece: str) -> list[str]:
    return re.findall(r"\[(.*?)\]", piece)


def test_a_word_deep_in_a_long_note_is_found_and_marked():
    text = "Filler words about nothing much. " * 400 + "Here the edge of stability appears. " + "More. " * 50
    piece = snippet.cut(text, ("stability",), MARKS)
    assert marked(piece) == ["stability"]
    assert piece.startswith("…") and piece.endswith("…") and len(piece) < 200


def test_the_window_goes_where_most_distinct_words_are():
    text = "sharpness once here. " + "padding " * 100 + "sharpness and the learning rate meet here at last."
    piece = snippet.cut(text, ("sharpness", "learning", "rate"), MARKS)
    assert marked(piece) == ["sharpness", "learning", "rate"]


def test_roots_match_other_endings_and_phrases_match_whole():
    text = "Stabilities differ; stabilise it. The Neural Tangent Kernels of wide nets. Unstable stuff."
    piece = snippet.cut(text, ("stability", "neural tangent kernel"), MARKS)
    assert marked(piece) == ["Stabilities", "stabilise", "Neural Tangent Kernels"]  # not the "stab" inside Unstable


def test_no_match_gives_the_start_unmarked():
    text = "word " * 200
    piece = snippet.cut(text, ("absent",), MARKS)
    assert not marked(piece) and piece.startswith("word word") and piece.endswith("…")
    assert snippet.cut("short text", ("absent",), MARKS) == "short text"


def test_only_the_head_of_a_huge_note_is_searched():
    text = "a " * (snippet.SCAN_LIMIT // 2 + 10) + "needle"
    assert not marked(snippet.cut(text, ("needle",), MARKS))
    assert marked(snippet.cut("a " * 100 + "needle", ("needle",), MARKS)) == ["needle"]


def test_letters_whose_lowercase_is_longer_do_not_shift_the_marks():
    text = "İstanbul notes: the Gradient flows here."
    piece = snippet.cut(text, ("gradient",), MARKS)
    assert marked(piece) == ["Gradient"]


def test_search_markers_become_spans_of_the_plain_text():
    piece = snippet.cut("Then sharpness rises to two over eta.", ("sharpness",), ("\x02", "\x03"))
    plain, spans = split_marks(piece)
    assert [plain[a:b] for a, b in spans] == ["sharpness"]


def test_a_formula_the_window_would_cut_is_shown_whole():
    text = "The step size sets it: " + r"\[ \lambda_{\max} = \frac{2}{\eta} \]" + " and sharpness " + "then " * 40
    piece = snippet.cut(text, ("sharpness",), MARKS)
    assert r"\[ \lambda_{\max} = \frac{2}{\eta} \]" in piece
    inline = "word " * 30 + "so $a + b + c + d + e + f + g + h + i + j + k$ holds for the sharpness here"
    assert "$a + b + c + d + e + f + g + h + i + j + k$" in snippet.cut(inline, ("sharpness",), MARKS)
