import pytest

from accent.text.normalize import normalize_transcript


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Mr. Smith lives on Baker St. today.", "MR. SMITH LIVES ON BAKER STREET TODAY"),
        ("mrs. jones and ms. lee", "MRS. JONES AND MS. LEE"),
        ('"Don\'t go," she said; it\'s late!', "DON'T GO SHE SAID IT'S LATE"),
        ("Well-known: yes? no!", "WELL KNOWN YES NO"),
        ("'quoted' words", "QUOTED WORDS"),
        ("It was the first.", "IT WAS THE FIRST"),  # the baseline's sed would write FIRSTREET
        ("  many   spaces\t here ", "MANY SPACES HERE"),
        ("John’s book", "JOHN'S BOOK"),
    ],
)
def test_normalize_transcript(raw, expected):
    assert normalize_transcript(raw) == expected
