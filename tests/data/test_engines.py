"""Task engines (musicllm.data.engines): in-process, local process pool, stopping, dead workers."""

from __future__ import annotations

import os

import pytest

from musicllm.data.engines import run_tasks
from musicllm.errors import MusicLLMError


def square_with_pid(task: int, shared: int) -> tuple[int, int, int]:
    return task, task * task + shared, os.getpid()


def die_on_three(task: int, shared: int) -> int:
    if task == 3:
        os._exit(1)  # a worker killed by the OOM killer looks like this
    return task


def test_local_engines_give_the_same_results():
    for workers in (1, 2):
        got = []
        run_tasks(square_with_pid, range(12), 5, lambda r, got=got: got.append(r) is None, workers=workers)
        assert sorted((t, v) for t, v, _ in got) == [(t, t * t + 5) for t in range(12)]
        pids = {pid for _, _, pid in got}
        assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)


def test_on_result_false_stops_submitting():
    seen = []
    run_tasks(square_with_pid, range(100), 0, lambda r: seen.append(r) or len(seen) < 3, workers=1)
    assert len(seen) == 3
    seen.clear()
    run_tasks(square_with_pid, range(100), 0, lambda r: seen.append(r) or len(seen) < 3, workers=2)
    assert 3 <= len(seen) < 10  # the tasks already running finish, no new ones start


def test_a_dead_worker_process_stops_the_run_with_a_message():
    with pytest.raises(MusicLLMError, match="a worker process died"):
        run_tasks(die_on_three, range(8), 0, lambda r: True, workers=2)
    with pytest.raises(MusicLLMError, match="unknown engine"):
        run_tasks(die_on_three, range(2), 0, lambda r: True, engine="dask")
