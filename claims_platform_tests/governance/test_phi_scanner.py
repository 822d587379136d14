"""The PHI scanner can fail: it finds a planted value wherever a run could leave one."""

import logging
from pathlib import Path

import dagster as dg

from claims_platform_tests.governance.phi_scan import PhiScanner, PhiValues, capture_output


def _values() -> PhiValues:
    values = PhiValues()
    values.add_member(
        {
            "FIRST_NAME": "Rosalind",
            "LAST_NAME": "Quackenbush",
            "SSN": "123456789",
            "PHONE": "555-321-0987",
            "EMAIL": "rosalind.quackenbush7@example.com",
            "ADDRESS_LINE1": "77 Birch Ln, Apt 4",
        }
    )
    values.add("name", "Lee")  # too short to scan on its own
    return values


def test_finds_each_kind_of_value_and_never_prints_it():
    scanner = PhiScanner(_values())
    text = (
        "loaded Rosalind Quackenbush (ssn 123456789) at 77 Birch Ln, Apt 4; "
        "call 555-321-0987 or rosalind.quackenbush7@example.com"
    )
    hits = scanner.scan(text, "planted")
    assert {h.kind for h in hits} == {"full name", "ssn", "address", "phone", "email"}
    assert all("Quackenbush" not in str(h) and "123456789" not in str(h) for h in hits)


def test_whole_tokens_only():
    scanner = PhiScanner(_values())
    assert scanner.scan("id 91234567890, hash ab123456789cd, Leeway, Rosalindo", "x") == []
    assert [h.kind for h in scanner.scan("name=Rosalind;", "x")] == ["name"]


def test_finds_a_value_in_the_event_log_files_and_captured_output(tmp_path: Path):
    scanner = PhiScanner(_values())

    @dg.asset
    def leaky(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        context.log.info("member Quackenbush loaded")
        print("stdout: 555-321-0987")
        logging.getLogger("some.library").warning("ssn=123456789")
        return dg.MaterializeResult(metadata={"sample": "rosalind.quackenbush7@example.com"})

    with dg.DagsterInstance.ephemeral() as instance:
        with capture_output() as out:
            assert dg.materialize([leaky], instance=instance).success
        kinds = {h.kind for h in scanner.scan_run_records(instance)}
    assert {"name", "email"} <= kinds
    assert [h.kind for h in scanner.scan(out.stdout_stderr, "out")].count("phone") >= 1
    assert "ssn" in {h.kind for h in scanner.scan("\n".join(out.python_log), "log")}

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dbt.log").write_text("where last_name = 'Quackenbush'")
    (tmp_path / "skipped.csv").write_text("Quackenbush")
    hits = scanner.scan_files(tmp_path, skip=[tmp_path / "skipped.csv"])
    assert [h.where.endswith("dbt.log") for h in hits] == [True]
