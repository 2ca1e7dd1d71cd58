"""`one_line`: the one way an error's text becomes a log field, a CLI line or a JSON reply."""

from __future__ import annotations

from bridge.errors import one_line


def test_newlines_and_indentation_collapse_to_single_spaces() -> None:
    exc = ConnectionError('connection failed:\n  server at "db" (10.0.0.5), port 5432 failed:\n\tConnection refused')
    assert one_line(exc) == 'connection failed: server at "db" (10.0.0.5), port 5432 failed: Connection refused'


def test_an_exception_with_no_text_is_named_by_its_class() -> None:
    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line(RuntimeError("  \n ")) == "RuntimeError"


def test_plain_text_with_no_content_stays_empty() -> None:
    assert one_line("") == ""
    assert one_line(" a\nb ") == "a b"


def test_the_mask_is_replaced_everywhere() -> None:
    text = 'auth failed for "app" (password "hunter2"): hunter2\nrejected'
    assert one_line(text, mask="hunter2") == 'auth failed for "app" (password "***"): *** rejected'
    assert one_line(text, mask=None) == " ".join(text.split())
    assert one_line(text, mask="") == " ".join(text.split())
