"""``submissions.py``: finding submissions, and the zip files students hand in.

Unsafe zips (absolute paths, ``..``, links, too many members or bytes, corrupt members) are
rejected for that student, with a reason, and nothing of them is extracted.
"""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from autograder import outcomes
from autograder.grading.submissions import MAX_MEMBERS, collect, extract_zip

NOTEBOOK = "00_fixture/fixture.ipynb"


def test_unsafe_zip_is_rejected(tmp_path):
    bad = tmp_path / "s.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("/etc/evil", "x")
    with pytest.raises(ValueError, match="unsafe path"):
        extract_zip(bad, tmp_path / "out", 2**20)
    assert not (tmp_path / "out").exists()


def _zip(path, members):
    """Write a zip of ``members``: (name or ZipInfo, data) pairs, deflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def test_zip_with_symlink_member_is_rejected(tmp_path):
    link = zipfile.ZipInfo("00_fixture/fixture.ipynb")
    link.create_system = 3  # unix: the high 16 bits of external_attr are st_mode
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = _zip(tmp_path / "s.zip", [("00_fixture/notes.txt", "fine"), (link, "/etc/passwd")])
    with pytest.raises(ValueError, match=r"s\.zip: '00_fixture/fixture\.ipynb' is a link"):
        extract_zip(bad, tmp_path / "out", 2**20)
    assert not (tmp_path / "out").exists()


def test_zip_over_the_uncompressed_size_limit_is_rejected(tmp_path):
    # 3 MiB of zeros compress to a few kB: the limit is on the uncompressed bytes
    one = _zip(tmp_path / "one.zip", [(NOTEBOOK, b"\0" * (3 * 2**20))])
    assert one.stat().st_size < 2**20
    with pytest.raises(ValueError, match=r"one\.zip: more than 2 MB uncompressed"):
        extract_zip(one, tmp_path / "out", 2 * 2**20)
    assert not (tmp_path / "out").exists()
    # the limit is on the total: three members each under it, together over it
    many = [(f"00_fixture/part{i}.bin", b"\0" * (2**20)) for i in range(3)]
    total = _zip(tmp_path / "total.zip", many)
    with pytest.raises(ValueError, match=r"total\.zip: more than 2 MB uncompressed"):
        extract_zip(total, tmp_path / "out", 2 * 2**20)
    assert not (tmp_path / "out").exists()
    # just under the limit is fine
    extract_zip(total, tmp_path / "out", 3 * 2**20)
    assert (tmp_path / "out" / "00_fixture" / "part2.bin").stat().st_size == 2**20


def test_zip_with_too_many_members_is_rejected(tmp_path):
    members = [(f"00_fixture/f{i}.txt", "x") for i in range(MAX_MEMBERS + 1)]
    bad = _zip(tmp_path / "s.zip", members)
    with pytest.raises(ValueError, match=rf"s\.zip: more than {MAX_MEMBERS} files"):
        extract_zip(bad, tmp_path / "out", 2**30)
    assert not (tmp_path / "out").exists()
    ok = _zip(tmp_path / "ok.zip", members[:MAX_MEMBERS])
    extract_zip(ok, tmp_path / "out", 2**30)
    assert len(list((tmp_path / "out" / "00_fixture").iterdir())) == MAX_MEMBERS


def test_corrupt_zip_member_is_rejected_not_a_crash(tmp_path):
    """A member whose data does not match its CRC: rejected, and nothing is left behind."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(NOTEBOOK, "A" * 1000)
    data = bytearray(buf.getvalue())
    data[data.find(b"A" * 1000) + 10] = ord("B")
    (tmp_path / "s.zip").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"s\.zip: cannot extract .*BadZipFile"):
        extract_zip(tmp_path / "s.zip", tmp_path / "out", 2**20)


def test_collect_rejects_bad_zips_per_student_and_keeps_the_others(tmp_path):
    subs, staging = tmp_path / "subs", tmp_path / "staging"
    subs.mkdir()
    link = zipfile.ZipInfo("00_fixture/fixture.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    _zip(subs / "linked.zip", [(link, "/etc/passwd")])
    _zip(subs / "big.zip", [(NOTEBOOK, b"\0" * (2 * 2**20))])
    _zip(subs / "many.zip", [(f"f{i}.ipynb", "{}") for i in range(MAX_MEMBERS + 1)])
    _zip(subs / "good.zip", [(NOTEBOOK, "{}")])
    (subs / "corrupt.zip").write_bytes(b"PK\x03\x04 not really a zip")
    got = {s.student_id: s for s in collect(subs, "00_fixture", staging, max_zip_mb=1)}
    assert sorted(got) == ["big", "corrupt", "good", "linked", "many"]
    assert got["good"].rejected is None
    assert got["good"].folder == staging / "good" / "00_fixture"
    assert (got["good"].folder / "fixture.ipynb").read_text() == "{}"
    reasons = {
        "linked": "is a link",
        "big": "more than 1 MB uncompressed",
        "many": f"more than {MAX_MEMBERS} files",
        "corrupt": "not a valid zip file",
    }
    for sid, reason in reasons.items():
        assert got[sid].folder is None and reason in got[sid].rejected.text, got[sid]
        assert got[sid].rejected.kind == outcomes.REJECTED
        assert not (staging / sid).exists()  # nothing of a rejected zip is extracted
