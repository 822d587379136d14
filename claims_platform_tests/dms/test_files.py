import pytest

from claims_platform.dms.files import noncanonical_dms_path, parse_path


@pytest.mark.parametrize(
    ("path", "table", "full_load", "fmt"),
    [
        ("CLAIMS/MEMBER/LOAD00000001.csv", "MEMBER", True, "csv"),
        ("CLAIMS/MEMBER/LOAD0000000A.csv.gz", "MEMBER", True, "csv.gz"),
        ("CLAIMS/CLAIM_LINE/20240102-101500123.parquet", "CLAIM_LINE", False, "parquet"),
        ("CLAIMS/CLAIM/2024/01/02/20240102-101500123.csv", "CLAIM", False, "csv"),
    ],
)
def test_dms_paths(path, table, full_load, fmt):
    f = parse_path(path)
    assert f is not None
    assert (f.schema, f.table, f.is_full_load, f.fmt) == ("CLAIMS", table, full_load, fmt)


@pytest.mark.parametrize(
    "path",
    [
        "CLAIMS/MEMBER/LOAD0001.csv",
        "CLAIMS/MEMBER/20240102-1015.csv",
        "CLAIMS/MEMBER/20240102-101500123.json",
        "CLAIMS/MEMBER/.20240102-101500123.csv.tmp",
        "CLAIMS/MEMBER/2024/01/20240102-101500123.csv",
        "MEMBER/20240102-101500123.csv",
        "OTHER/MEMBER/LOAD00000001.csv",
        "claims/MEMBER/LOAD00000001.csv",
        "/CLAIMS/MEMBER/LOAD00000001.csv",
        "CLAIMS/MEMBER//LOAD00000001.csv",
        "CLAIMS/MEMBER/./LOAD00000001.csv",
        "CLAIMS/MEMBER/LOAD00000001.csv/",
    ],
)
def test_non_dms_paths_are_ignored(path):
    assert parse_path(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "/CLAIMS/MEMBER/LOAD00000001.csv",
        "CLAIMS//MEMBER/LOAD00000001.csv",
        "CLAIMS/MEMBER//LOAD00000001.csv",
        "CLAIMS/MEMBER/./LOAD00000001.csv",
        "CLAIMS/MEMBER/LOAD00000001.csv/",
    ],
)
def test_a_non_canonical_key_names_its_file_and_keeps_its_path(path):
    f = noncanonical_dms_path(path)
    assert f is not None
    assert (f.path, f.table, f.name) == (path, "MEMBER", "LOAD00000001.csv")


@pytest.mark.parametrize(
    "path",
    [
        "CLAIMS/MEMBER/LOAD00000001.csv",
        "CLAIMS/MEMBER//notes.txt",
        "OTHER//MEMBER/LOAD00000001.csv",
    ],
)
def test_canonical_paths_and_non_dms_keys_are_not_non_canonical_dms_files(path):
    assert noncanonical_dms_path(path) is None
