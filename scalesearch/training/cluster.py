"""Where trainings run: one Ray Tune executor for search, fidelity, compare and studies.

A run joins a Ray cluster (``address``) or starts a local runtime, checks that each trial's
request fits what the cluster has, and runs its trainings as Ray Tune trials, each with
``cpus_per_trial`` CPUs (= torch threads) and ``gpus_per_trial`` GPUs (Ray sets
``CUDA_VISIBLE_DEVICES``; "cuda" inside a trial is the GPU it was given). :class:`Placement`
is where a run trains, never what it computes, so a resume ignores it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import Placement


def connect(address: str | None):
    """(ray, owned): join ``address`` or start a local runtime; an existing one is reused
    (owned False: its owner shuts it down)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    # a lost trial becomes a failure row that names its cause; Tune's traceback is noise
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    import logging

    import ray

    logging.getLogger("ray").setLevel(logging.ERROR)  # progress is ours; errors still show
    if ray.is_initialized():
        return ray, False
    # Workers' own stdout/stderr (repeated library warnings) are not the user's progress:
    # trial outcomes and errors reach the driver through Tune's results instead.
    kwargs: dict[str, Any] = dict(include_dashboard=False, configure_logging=False,
                                  log_to_driver=False)
    if not address:  # "local": a new runtime even when another run's Ray is up on this machine
        # Ray starts its workers at nice 15: the trials — the work the user asked for — would
        # then yield to any other process, and the budget's pilot (run here, at the driver's
        # priority) would plan for a speed they do not get. RAY_worker_niceness set by the
        # user wins.
        os.environ.setdefault("RAY_worker_niceness", "0")
        try:
            with _token_auth():
                ray.init(address="local", num_cpus=os.cpu_count(), **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise ScalesearchError(f"cannot start Ray (local): {str(err).splitlines()[0]}") \
                from None
        return ray, True
    unreachable = _unreachable(address)
    if unreachable:  # Ray's clients retry for 20–30 s before they say so
        raise ScalesearchError(f"cannot start or join Ray ({address}): {unreachable}")
    # A refused join makes Ray's C++ client print a warning line per retry for 20 s, and its
    # Python client (where grpcio is installed) warns once it times out: keep them off the
    # terminal, say the reason once, and leave no half-connected client to the next run.
    with _stderr_to_file() as captured, warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            with contextlib.suppress(Exception):
                ray.shutdown()
            raise ScalesearchError(f"cannot start or join Ray ({address}): "
                                   f"{_join_failure(str(err), captured())}") from None
    for w in warned:  # a join that worked: its warnings are the user's
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ray, True


def _unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why nothing at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``) can be joined — the
    host does not resolve, or its port takes no connection — else None (``auto`` and an
    address without a port are left to Ray)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    host = host.strip("[]")
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"host {host!r} not found"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except OSError as err:
        return f"nothing answers at {host}:{port} ({err.strerror or type(err).__name__})"


@contextmanager
def _token_auth():
    """A local runtime keeps Ray's token authentication on. Ray 2.60's GCS, raylet and workers
    listen on every interface whatever node IP they are given (``ray.init`` maps 127.0.0.1 to
    the routable address), so the token is what keeps other machines out; a local run has no
    node to admit, so ``RAY_AUTH_MODE=disabled`` in the environment is set aside while the
    runtime starts (with a warning), and restored after."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if (mode or "").strip().lower() != "disabled":
        yield
        return
    warnings.warn("RAY_AUTH_MODE=disabled is ignored for a local run: its Ray listens on every "
                  "interface, so it keeps token authentication on", stacklevel=4)
    del os.environ["RAY_AUTH_MODE"]
    try:
        yield
    finally:
        os.environ["RAY_AUTH_MODE"] = mode


@contextmanager
def _stderr_to_file():
    """File descriptor 2 (where C++ libraries write) into a temporary file; yields a reader."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield lambda: (f.seek(0), f.read().decode(errors="replace"))[1]
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _join_failure(error: str, stderr: str) -> str:
    """Ray's reason for a refused join in one line; token authentication (on by default in a
    Ray ≥ 2.59 cluster whose head has ~/.ray/auth_token) gets what to set."""
    if "InvalidAuthToken" in stderr or "InvalidAuthToken" in error:
        told = os.environ.get("RAY_AUTH_MODE") == "token"
        return ("the cluster refused this machine's token (InvalidAuthToken); " +
                ("check that RAY_AUTH_TOKEN is the head's token" if told else
                 "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the head's token (`ray "
                 "get-auth-token` on the head)"))
    return error.splitlines()[0] if error else "no reason given"


def check_request(cpus_per_trial: int, gpus_per_trial: float, cpus: int, gpus: float) -> None:
    """Refuse a trial that asks for more CPUs or GPUs than the cluster has."""
    if cpus_per_trial > cpus:
        raise ScalesearchError(f"--cpus-per-trial {cpus_per_trial} exceeds the cluster's "
                               f"{cpus} CPUs")
    if gpus_per_trial > gpus:
        raise ScalesearchError(f"--gpus-per-trial {gpus_per_trial:g} exceeds the cluster's "
                               f"{gpus:g} GPUs" + ("; it needs a CUDA GPU" if not gpus else ""))


def check_placement(place: Placement) -> None:
    """Before anything is written: the local machine's cores and GPUs (what a local runtime
    gets), or the cluster's resources when ``place.address`` names one (joined, read, left)."""
    if place.address is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        check_request(place.cpus_per_trial, place.gpus_per_trial, os.cpu_count() or 1, gpus)
        return
    with runtime(place):  # capacity() refuses what the cluster cannot place
        pass


@contextmanager
def runtime(place: Placement, log: Callable[[str], None] | None = None):
    """Join ``place.address`` (or start a local runtime) for the block; yields (ray, the
    cluster's CPUs, trials at once) after refusing a request it cannot place, and shuts down
    a runtime it started."""
    if log:
        log(f"starting Ray ({place.address or 'local'}) …")
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None  # Ray's init sets its own
    ray, owned = connect(place.address)
    term_as_interrupt()
    try:
        yield (ray, *capacity(ray, place))
    finally:
        try:
            if owned:
                ray.shutdown()
        finally:
            if main:  # not Ray's handler (sys.exit(15), no line) once Ray is gone
                signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)


def _interrupt(signum, frame) -> None:
    os.kill(os.getpid(), signal.SIGINT)


def term_as_interrupt():
    """SIGTERM (a scheduler's stop, ``kill``) does what Ctrl-C does — finished trials kept, one
    line, exit 1 — instead of Ray's C++ signal dump or a silent exit; installed while Ray runs
    (after Ray's own handler) and by the CLI for a whole command, from the main thread only.
    Returns the handler it replaced (None: not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def capacity(ray, place: Placement) -> tuple[int, int]:
    """(the cluster's CPUs, trials at once); refuses requests it cannot place."""
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 1)), float(resources.get("GPU", 0))
    check_request(place.cpus_per_trial, place.gpus_per_trial, cpus, gpus)
    concurrent = max(1, cpus // place.cpus_per_trial)
    if place.gpus_per_trial:
        concurrent = min(concurrent, max(1, int(gpus / place.gpus_per_trial + 1e-9)))
    return cpus, min(concurrent, place.max_concurrent or concurrent)


def describe(place: Placement, cpus: int, concurrent: int) -> str:
    """'2 CPUs, 1 per trial, up to 2 at once' (the line every run prints as it starts)."""
    gpus = f", {place.gpus_per_trial:g} GPU per trial" if place.gpus_per_trial else ""
    return f"{cpus} CPUs, {place.cpus_per_trial} per trial{gpus}, up to {concurrent} at once"


def fit(trainable: Callable, context: object, place: Placement, concurrent: int, storage: str,
        name: str, callbacks: list, param_space: dict | None = None, stop=None,
        **tune_config) -> None:
    """One Ray Tune run of ``trainable(config, context)`` (``tune_config``: search_alg,
    scheduler, num_samples); actors are reused, so data and counter caches carry over."""
    from ray import tune

    request = {"cpu": place.cpus_per_trial, "gpu": place.gpus_per_trial}
    tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, context=context), request),
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrent, reuse_actors=True,
                                    **tune_config),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0,
                                  callbacks=callbacks, stop=stop,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    ).fit()


def run_jobs(trainable: Callable, context: object, count: int, place: Placement, *,
             on_rows: Callable[[list[dict]], None], on_lost: Callable[[int, str], None],
             log: Callable[[str], None], what: str = "training(s)",
             callbacks: Sequence = ()) -> None:
    """Run ``count`` independent jobs as Ray Tune trials of ``trainable(config, context)``,
    ``config["index"]`` naming the job; each reports ``{"rows": [...]}``, handed to ``on_rows``
    as it arrives. A trial Ray loses (its worker died) reaches ``on_lost(index, error)``;
    ``callbacks``: more Ray Tune callbacks (experiment trackers)."""
    from ray import tune

    class Arrivals(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            on_rows(result.get("rows") or [])

        def on_trial_error(self, iteration, trials, trial, **info):
            on_lost(trial.config["index"], f"Ray trial error: {trial.error_file}")

    with runtime(place, log) as (_, cpus, concurrent):
        log(f"{count} {what} on Ray ({describe(place, cpus, concurrent)})")
        with tempfile.TemporaryDirectory(prefix="scalesearch-ray-") as storage:
            fit(trainable, context, place, concurrent, storage, "jobs", [Arrivals(), *callbacks],
                param_space={"index": tune.grid_search(list(range(count)))})
