"""The string formats against the server's own verdicts.

Each row is a value and the checks that take it, as recorded from the Go code the API server runs (Go 1.26's
time.Parse and encoding/base64, kube-openapi's strfmt rules): ``time`` = time.Parse(time.RFC3339), ``micro`` =
metav1.MicroTime's layout, ``go_base64`` = base64.StdEncoding (a built-in kind's []byte), ``openapi_base64`` and
``openapi_date_time`` = a custom resource's ``byte`` and ``date-time``, ``date`` = ``date``.
"""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube import formats

GO_VERDICTS = [
    ("", ('go_base64',)),
    ("YQ==", ('go_base64', 'openapi_base64')),
    ("YWI=", ('go_base64', 'openapi_base64')),
    ("YWJj", ('go_base64', 'openapi_base64')),
    ("eGlhb21hZ2UK", ('go_base64', 'openapi_base64')),
    ("eGlh\nb21hZ2UK", ('go_base64',)),
    ("YWJj\r\n", ('go_base64',)),
    ("eGlhb21hZ2UK=", ()),
    ("YQ=", ()),
    ("YQ", ()),
    ("Y", ()),
    ("YQ==YQ==", ()),
    ("YR==", ('go_base64', 'openapi_base64')),
    ("Y Q==", ()),
    ("YQ==\n", ('go_base64',)),
    ("a-b_", ()),
    ("YWJj====", ()),
    ("=YWJ", ()),
    ("2024-05-01T10:00:00Z", ('time', 'openapi_date_time')),
    ("2024-05-01T10:00:00.5+02:00", ('time', 'openapi_date_time')),
    ("2024-05-01T1:00:00Z", ('time',)),
    ("2024-05-01T10:00:00,25Z", ('time', 'openapi_date_time')),
    ("2024-05-01T10:00:00+24:00", ('time', 'openapi_date_time')),
    ("2024-05-01T10:00:00+24:01", ('time', 'openapi_date_time')),
    ("2024-02-29T00:00:00Z", ('time', 'openapi_date_time')),
    ("2023-02-29T00:00:00Z", ()),
    ("0000-02-29T00:00:00Z", ('time', 'openapi_date_time')),
    ("2024-05-01T24:00:00Z", ()),
    ("2024-05-01 10:00:00Z", ()),
    ("2024-05-01t10:00:00z", ('openapi_date_time',)),
    ("2024-05-01T10:00:00", ()),
    ("2024-05-01", ('date',)),
    ("2024-5-01T10:00:00Z", ()),
    ("2024-05-01T10:00:60Z", ()),
    ("2024-05-01T10:00:00.123456Z", ('time', 'micro', 'openapi_date_time')),
    ("2024-05-01T10:00:00,123456+02:00", ('time', 'micro', 'openapi_date_time')),
    ("2024-05-01T10:00:00.123Z", ('time', 'openapi_date_time')),
    ("2024-05-01T10:00:00.1234567Z", ('time', 'openapi_date_time')),
    ("2024-05-01T10:00:00.+12345Z", ('micro',)),
    ("2024-05-01T10:00:00.-00000Z", ('micro',)),
    ("2024-05-01T10:00:00.-12345Z", ()),
    ("2024-05-01T10:00:00Zt", ('openapi_date_time',)),
    ("2024-05-01T10:00:00ztrailing", ('openapi_date_time',)),
    ("2024-02-30", ()),
    ("0000-02-29", ('date',)),
]


@pytest.mark.parametrize("value,taken", GO_VERDICTS)
def test_each_format_takes_what_the_server_takes(value, taken):
    mine = {"time": formats.go_rfc3339(value), "micro": formats.go_rfc3339(value, micro=True),
            "go_base64": formats.typed_problem(value, "byte", None) is None,
            "openapi_base64": formats.custom_problem(value, "byte") is None,
            "openapi_date_time": formats.custom_problem(value, "date-time") is None,
            "date": formats.custom_problem(value, "date") is None}
    assert {name for name, ok in mine.items() if ok} == set(taken)


def test_messages_name_the_rule_never_the_value():
    assert formats.typed_problem("eGlhb21hZ2UK=", "byte", None) == \
        "is not valid base64 (the standard alphabet, padded with '=')"
    assert "six fractional digits" in formats.typed_problem("2024-05-01T10:00:00Z", "date-time", formats.MICRO_TIME_REF)
    assert formats.typed_problem("2024-05-01T10:00:00Z", "date-time", "io.k8s.apimachinery.pkg.apis.meta.v1.Time") \
        is None
    assert formats.custom_problem("not-a-uuid", "uuid") == "is not a UUID"
    assert formats.custom_problem("anything", "hostname") is None  # not judged here: the dry-run does
