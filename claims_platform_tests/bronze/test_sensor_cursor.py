import datetime as dt

from claims_platform.bronze.landing import LandedFile, LocalLanding
from claims_platform.dms.files import parse_path
from claims_platform.orchestration.bronze.sensor import LOOKBACK, LandingCursor

T0 = dt.datetime(2024, 1, 2, 10, 0, 0)


def landed(name: str, at: dt.datetime) -> LandedFile:
    f = parse_path(f"CLAIMS/MEMBER/{name}")
    assert f is not None
    return LandedFile(file=f, size_bytes=1, modified_at=at)


def tick(cursor: LandingCursor, listed: list[LandedFile]) -> list[str]:
    taken = cursor.new_files(listed)
    cursor.advance(taken)
    # The cursor must survive a restart: round-trip it through its JSON form every tick.
    restored = LandingCursor.load(cursor.dump())
    cursor.watermark, cursor.recent = restored.watermark, restored.recent
    return [f.path.rsplit("/", 1)[1] for f in taken]


def test_equal_modification_times_are_not_skipped():
    c = LandingCursor()
    a, b = landed("20240102-100000000.csv", T0), landed("20240102-100000001.csv", T0)
    assert tick(c, [a]) == ["20240102-100000000.csv"]
    # b shows up later with the same mtime as the watermark.
    assert tick(c, [a, b]) == ["20240102-100000001.csv"]
    assert tick(c, [a, b]) == []


def test_file_visible_late_with_an_older_mtime_is_picked_up():
    c = LandingCursor()
    a = landed("20240102-100000000.csv", T0 + dt.timedelta(minutes=2))
    assert tick(c, [a]) == ["20240102-100000000.csv"]
    # Written before a, renamed into place after the sensor listed.
    late = landed("20240102-095900000.csv", T0)
    assert tick(c, [a, late]) == ["20240102-095900000.csv"]
    assert tick(c, [a, late]) == []


def test_a_path_delivered_again_in_place_is_new_again():
    """A DMS reload reusing LOAD names, or a fixed file re-delivered: the silver step decides
    what to do with it (read a quarantined file again, record a processed one as changed)."""
    c = LandingCursor()
    first = landed("LOAD00000001.csv", T0)
    assert tick(c, [first]) == ["LOAD00000001.csv"]
    assert tick(c, [first]) == []
    again = landed("LOAD00000001.csv", T0 + dt.timedelta(minutes=1))
    assert tick(c, [again]) == ["LOAD00000001.csv"]
    assert tick(c, [again]) == []


def test_recent_set_stays_bounded_by_the_lookback_window():
    c = LandingCursor()
    files = [
        landed(f"20240102-10{i:02d}00000.csv", T0 + dt.timedelta(minutes=i)) for i in range(60)
    ]
    for f in files:
        tick(c, files[: files.index(f) + 1])
    assert len(c.recent) <= LOOKBACK.total_seconds() / 60 + 1
    assert tick(c, files) == []


def test_local_landing_lists_only_dms_files(tmp_path):
    (tmp_path / "CLAIMS" / "MEMBER" / "2024" / "01" / "02").mkdir(parents=True)
    (tmp_path / "CLAIMS" / "MEMBER" / "LOAD00000001.csv").write_text("x")
    (
        tmp_path / "CLAIMS" / "MEMBER" / "2024" / "01" / "02" / "20240102-100000000.csv.gz"
    ).write_text("x")
    (tmp_path / "CLAIMS" / "MEMBER" / "notes.txt").write_text("x")
    (tmp_path / "CLAIMS" / "MEMBER" / ".20240102-100000001.csv.tmp").write_text("x")
    paths = sorted(f.path for f in LocalLanding(tmp_path).list_files())
    assert paths == [
        "CLAIMS/MEMBER/2024/01/02/20240102-100000000.csv.gz",
        "CLAIMS/MEMBER/LOAD00000001.csv",
    ]
