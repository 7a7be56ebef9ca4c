"""infozoo.util.io: a write is whole or absent; a failed one leaves the old file as it was."""
import os

import numpy as np
import pytest

from infozoo.util.io import atomic_open, atomic_path, atomic_write


def test_atomic_write_replaces_and_a_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "m.json"
    atomic_write(str(p), "old")
    atomic_write(str(p), b"new")
    assert p.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_open(str(p)) as f:
            f.write("half")
            raise RuntimeError("the writer failed")
    assert p.read_text() == "new" and os.listdir(tmp_path) == ["m.json"]  # no temporary left


def test_atomic_path_for_writers_that_take_a_name(tmp_path):
    p = tmp_path / "arrays.npz"
    with atomic_path(str(p), suffix=".npz") as tmp:
        assert tmp.endswith(".npz") and os.path.dirname(tmp) == str(tmp_path)
        np.savez(tmp, x=np.arange(3))
    np.testing.assert_array_equal(np.load(p)["x"], np.arange(3))
    assert os.listdir(tmp_path) == ["arrays.npz"]


def test_temp_dir_beside_gets_the_umasks_permissions(tmp_path):
    from infozoo.util.io import temp_dir_beside
    old = os.umask(0o027)
    try:
        d = temp_dir_beside(str(tmp_path / "out"))
    finally:
        os.umask(old)
    assert os.path.dirname(d) == str(tmp_path) and os.listdir(d) == []
    assert os.path.basename(d).startswith(".out.infozoo-tmp-")
    assert os.stat(d).st_mode & 0o777 == 0o750  # mkdtemp alone gives 0700
