"""Run independent tasks in this process, in local worker processes, or on a Ray cluster.

`run_tasks(fn, tasks, shared, on_result, engine=..., workers=...)` calls ``fn(task, shared)`` for every
task and hands each result to ``on_result`` in the calling process, in completion order (callers that
need a fixed order sort afterwards). ``on_result`` returns ``False`` to stop: no new task is started,
the running ones finish and their results are still delivered. At most a few tasks per worker are in
flight, so millions of tasks cost no memory up front. ``fn`` should catch its own errors; when a Ray
task fails anyway (its worker died), ``on_error(task, exc)`` makes the result handed on instead. A
local worker process that dies breaks the pool: `MusicLLMError` then stops the run.

Engines:

- ``"local"``: ``workers == 1`` runs in this process (handy for debugging and fault injection);
  more use a ``ProcessPoolExecutor`` whose workers fork from a ``forkserver`` that has already
  imported the task's module (quick to start, no threads of the caller inherited). As always with
  multiprocessing, a script that starts such a run must guard its entry point with
  ``if __name__ == "__main__":`` (the ``musicllm`` command and ``python -m musicllm`` are safe).
- ``"ray"``: the same function as a Ray task (``num_cpus=1``). It connects to ``address`` (or
  ``$RAY_ADDRESS``) when given, else starts a local Ray instance with ``workers`` CPUs; a Ray instance
  started here is shut down at the end. Every node must see the same files at the same paths (a
  shared file system) and have musicllm installed. Ray is optional: without it a
  `MissingDependencyError` names the install command.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from musicllm.errors import MissingDependencyError, MusicLLMError

ENGINES = ("local", "ray")
RAY_INSTALL = "pip install 'ray==2.60.0'"
IN_FLIGHT_PER_WORKER = 2


def import_ray():
    """The ``ray`` module, or `MissingDependencyError` with the install command."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(f"the Ray engine needs Ray: {RAY_INSTALL}") from exc
    return ray


def run_tasks(fn: Callable[[Any, Any], Any], tasks: Iterable[Any], shared: Any,
              on_result: Callable[[Any], bool], *, engine: str = "local", workers: int = 1,
              address: str | None = None, preload: tuple[str, ...] = (),
              on_error: Callable[[Any, BaseException], Any] | None = None) -> None:
    """Run ``fn(task, shared)`` for every task; see the module docstring. ``fn`` must be a module-level
    function (it is pickled by reference). ``preload``: modules the local workers' forkserver imports
    once (heavy imports that every task needs). ``on_error``: see the module docstring (default:
    the error propagates)."""
    if engine not in ENGINES:
        raise MusicLLMError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if workers < 1:
        raise MusicLLMError(f"workers must be at least 1, got {workers}")
    if engine == "ray":
        _run_ray(fn, tasks, shared, on_result, workers, address, on_error)
    elif workers == 1:
        for task in tasks:
            if on_result(fn(task, shared)) is False:
                break
    else:
        _run_pool(fn, tasks, shared, on_result, workers, preload)


def _run_pool(fn, tasks, shared, on_result, workers: int, preload: tuple[str, ...]) -> None:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([fn.__module__, *preload])
    it = iter(tasks)
    pending: set[Future] = set()
    stop = False
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    tasks_of: dict[Future, Any] = {}
    try:
        while True:
            while not stop and len(pending) < IN_FLIGHT_PER_WORKER * workers:
                task = next(it, StopIteration)
                if task is StopIteration:
                    break
                fut = ex.submit(fn, task, shared)
                tasks_of[fut] = task
                pending.add(fut)
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                task = tasks_of.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    raise MusicLLMError("a worker process died (out of memory?); rerun to resume, with fewer "
                                        "workers if memory is short") from None
                if on_result(result) is False:
                    stop = True
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def _run_ray(fn, tasks, shared, on_result, workers: int, address: str | None, on_error) -> None:
    import logging

    ray = import_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                                  "log_to_driver": False}
        if address is None:
            kwargs["num_cpus"] = workers
        ray.init(address=address, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        shared_ref = ray.put(shared)
        capacity = max(1, int(ray.cluster_resources().get("CPU", workers)))
        it = iter(tasks)
        pending: list = []
        tasks_of: dict[Any, Any] = {}
        stop = False
        try:
            while True:
                while not stop and len(pending) < IN_FLIGHT_PER_WORKER * capacity:
                    task = next(it, StopIteration)
                    if task is StopIteration:
                        break
                    ref = remote.remote(task, shared_ref)
                    tasks_of[ref] = task
                    pending.append(ref)
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    task = tasks_of.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        if on_error is None:
                            raise
                        result = on_error(task, exc)
                    if on_result(result) is False:
                        stop = True
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()
