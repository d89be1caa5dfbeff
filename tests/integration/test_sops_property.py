"""Property: any document sops encrypts, we decrypt to exactly what `sops -d` returns."""

import json
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sops_helpers import encrypt, expected_data, ours

KEYS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda key: key != "sops")
SCALARS = (st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
           | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.booleans()
           | st.none())
VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(KEYS, children, max_size=4), max_leaves=12)
DOCUMENTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=6)


def numbers_as_floats(value):
    """sops prints floats without exponent (Go 'f' format), so 6.3e16 comes back as an integer
    literal; compare numbers by value, everything else exactly."""
    if isinstance(value, dict):
        return {key: numbers_as_floats(child) for key, child in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(child) for child in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS, fmt=st.sampled_from(["json", "yaml"]))
def test_random_documents_decrypt_like_sops(age_key, document, fmt):
    text = json.dumps(document) if fmt == "json" else yaml.safe_dump(document, allow_unicode=True)
    with tempfile.TemporaryDirectory() as directory:
        path = encrypt(directory, f"doc.{fmt}", text, "--age", age_key.public)
        expected = expected_data(path, fmt, age_key_file=age_key.path)
        assert numbers_as_floats(ours(path, age_key_file=str(age_key.path)).data) == numbers_as_floats(expected)
