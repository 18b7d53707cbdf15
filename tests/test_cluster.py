"""One executor (scalesearch.training.cluster): compare and studies run as Ray Tune trials like
search — placement checks, fractional GPUs, lost trials as failure rows, a multi-node cluster."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import Placement
from scalesearch.training.cluster import check_request

TINY = ["--proxy-size", "32", "--num-train", "32", "--num-val", "16", "--epochs", "1",
        "--batch-size", "16"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(cpus_per_trial=0), "--cpus-per-trial must be a whole number ≥ 1, got 0"),
    (dict(cpus_per_trial=1.5), "--cpus-per-trial must be a whole number ≥ 1, got 1.5"),
    (dict(gpus_per_trial=-0.5), "--gpus-per-trial must be a finite number ≥ 0, got -0.5"),
    (dict(gpus_per_trial=1.5), "whole above 1"),
    (dict(gpus_per_trial=float("nan")), "--gpus-per-trial must be a finite number ≥ 0"),
    (dict(max_concurrent=0), "--max-concurrent must be a whole number in 1…1024, got 0"),
    (dict(max_concurrent=1025), "--max-concurrent must be a whole number in 1…1024, got 1025"),
])
def test_placement_refuses_what_ray_cannot_place(kwargs, message):
    with pytest.raises(ScalesearchError, match=message):
        Placement(**kwargs)


def test_trial_setup_threads_and_device():
    from scalesearch.settings.recipe import ProxySetup

    setup = Placement(cpus_per_trial=3).trial_setup(ProxySetup())
    assert (setup.train.threads, setup.train.device) == (3, "cpu")  # auto stays off GPUs
    gpu = Placement(gpus_per_trial=0.5).trial_setup(ProxySetup())
    assert gpu.train.device == "auto"  # Ray's CUDA_VISIBLE_DEVICES picks the GPU


def test_a_relative_data_folder_reaches_the_trials_absolute(tmp_path, monkeypatch):
    """A trial runs in its Ray worker's folder (a cluster node's, or where a runtime already
    running was started), not in this process's: --data photos must not depend on it."""
    from scalesearch.settings.recipe import ProxySetup

    monkeypatch.chdir(tmp_path)
    assert Placement().trial_setup(ProxySetup(data="photos")).data == str(tmp_path / "photos")
    assert Placement().trial_setup(ProxySetup()).data == "synthetic"


def test_check_request_messages():
    check_request(2, 0.5, 2, 1.0)
    with pytest.raises(ScalesearchError, match="--cpus-per-trial 3 exceeds the cluster's 2 CPUs"):
        check_request(3, 0, 2, 0)
    with pytest.raises(ScalesearchError, match="exceeds the cluster's 0 GPUs; it needs a CUDA"):
        check_request(1, 0.5, 2, 0)


def test_compare_refuses_more_cpus_than_the_machine_before_writing(cli, tmp_path):
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--cpus-per-trial", str((os.cpu_count() or 1) + 1), *TINY,
                       "--out", tmp_path / "o")
    assert code == 2 and "exceeds the cluster's" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def _fake_trial(config: dict, context) -> None:
    """Stands in for compare's trainable: records when it ran and which GPU Ray gave it; the
    job with seed 3 kills its worker (a trial Ray loses)."""
    import ray
    from ray import tune

    job = context.jobs[config["index"]]
    if job["seed"] == 3:
        os._exit(1)
    start = time.time()
    time.sleep(2.0)
    tune.report({"rows": [dict(job["point"], seed=job["seed"], status="ok", top1=1.0,
                               start=start, end=time.time(), gpus=ray.get_gpu_ids(),
                               threads=context.setup.train.threads,
                               visible=os.environ.get("CUDA_VISIBLE_DEVICES"))]})


@pytest.mark.slow
@pytest.mark.own_ray  # fake GPUs: its own ray.init
def test_compare_trials_share_a_declared_gpu_and_a_lost_trial_is_a_failure_row(monkeypatch,
                                                                                 tmp_path, capfd):
    import ray
    from ray import cloudpickle

    from scalesearch.comparison import run
    from scalesearch.comparison.strategies import solve_strategies
    from scalesearch.scaling.registry import resolve

    cloudpickle.register_pickle_by_value(__import__(__name__))
    monkeypatch.setattr(run, "trial", _fake_trial)
    points = [dict(p.to_dict(), baseline="mobilenet-v2") for p in
              solve_strategies(resolve("mobilenet-v2"), [2.0], ("width",), run.CompareConfig(
                  "mobilenet-v2"))]
    cfg = run.CompareConfig("mobilenet-v2", (2.0,), ("width",), seeds=4,
                            placement=Placement(gpus_per_trial=0.5))
    ray.init(address="local", num_cpus=4, num_gpus=1, include_dashboard=False,
             configure_logging=False)
    try:
        rows = run.train_points(cfg, points, run.CompareRows(tmp_path / "compare.csv"),
                               log=lambda m: None)
    finally:
        ray.shutdown()
    assert len(rows) == 8  # 2 networks × 4 seeds, the lost ones included
    assert "Trial task failed" not in capfd.readouterr().err  # the row says it; no traceback
    lost = [r for r in rows if r["seed"] == 3]
    assert len(lost) == 2 and all(r["status"] == "failed" and "Ray trial error" in r["error"]
                                  for r in lost)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 6 and all(r["gpus"] and r["visible"] == "0" and r["threads"] == 1
                                for r in ok)
    events = sorted([(r["start"], 1) for r in ok] + [(r["end"], -1) for r in ok])
    running = [sum(e for _, e in events[:i + 1]) for i in range(len(events))]
    assert max(running) == 2  # 4 CPUs would allow 4; half a GPU each on 1 GPU allows 2
    assert len(pd.read_csv(tmp_path / "compare.csv")) == 8  # every row, as it arrived


@pytest.mark.slow
def test_compare_runs_across_a_multi_node_cluster(cli, tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                           "--strategies", "width", *TINY, "--address", cluster.address,
                           "--out", tmp_path / "c")
        assert code == 0, err
        assert "(2 CPUs, 1 per trial, up to 2 at once)" in err
        df = pd.read_csv(tmp_path / "c" / "compare.csv")
        assert len(df) == 2 and set(df["status"]) == {"ok"}
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_the_python_api_validates_placement_like_the_cli(tmp_path):
    import scalesearch

    for run, args in ((scalesearch.search, ("efficientnet-b0",)),
                      (scalesearch.compare, ("mobilenet-v2",))):
        with pytest.raises(ScalesearchError, match="--cpus-per-trial must be a whole number"):
            run(*args, cpus_per_trial=0, out=str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_cluster_recipe_with_token_auth(tmp_path):
    """The README's recipe on one machine: a head with a token (`ray start --head --block`),
    a second node that joins with RAY_AUTH_MODE=token and that token, and compare across both
    nodes; a machine without the token is refused in one line, exit 2."""
    import shutil
    import signal
    import subprocess
    import sys

    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable))
    head_home, other_home = tmp_path / "head", tmp_path / "other"
    head_home.mkdir()
    other_home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env = dict(base, HOME=str(head_home))
    token = subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, text=True,
                           capture_output=True, timeout=60).stdout.strip().splitlines()[-1]
    auth = dict(base, HOME=str(other_home), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    nodes = [subprocess.Popen([ray_cli, "start", "--head", f"--port={port}",
                               "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                               *common], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        time.sleep(8)
        nodes.append(subprocess.Popen([ray_cli, "start", f"--address={address}",
                                       "--node-ip-address=127.0.0.1", *common], env=auth,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 120
        while time.time() < deadline:
            status = subprocess.run([ray_cli, "status", f"--address={address}"], env=auth,
                                    capture_output=True, text=True, timeout=60).stdout
            if "2.0 CPU" in status or "0.0/2.0 CPU" in status:
                break
            time.sleep(3)
        args = [sys.executable, "-m", "scalesearch.cli.main", "compare", "--baseline",
                "mobilenet-v2", "--flops-ratio", "2", "--strategies", "width", *TINY,
                "--address", address]
        stranger = dict(base, HOME=str(tmp_path / "stranger"))
        refused = subprocess.run([*args, "--out", str(tmp_path / "no")], env=stranger,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()], refused.stderr
        assert "cannot start or join Ray" in refused.stderr and "RAY_AUTH_MODE=token" in \
            refused.stderr
        done = subprocess.run([*args, "--out", str(tmp_path / "c")], env=auth,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "(2 CPUs, 1 per trial, up to 2 at once)" in done.stderr
        assert len(pd.read_csv(tmp_path / "c" / "compare.csv")) == 2
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)
        for node in nodes:
            node.wait(timeout=60)


def _listening(pids: set[int]) -> list[tuple[str, int, int]]:
    """(host, port, pid) of every TCP socket that one of ``pids`` listens on."""
    import psutil

    return [(c.laddr.ip, c.laddr.port, c.pid) for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


@pytest.mark.own_ray
@pytest.mark.parametrize("env, nice", [(None, 0), ("7", 7)])
def test_a_local_runtime_trains_at_the_drivers_priority(monkeypatch, env, nice):
    """Ray starts its workers at nice 15, so the trials yielded to every other process (a
    benchmark's trials got 4% of a core for 24 minutes beside two others) while the budget's
    pilot, in the driver, measured full speed. A local runtime's workers now run at the
    driver's priority; a RAY_worker_niceness the user sets wins."""
    from scalesearch.training.cluster import connect

    if env is None:
        monkeypatch.delenv("RAY_worker_niceness", raising=False)
    else:
        monkeypatch.setenv("RAY_worker_niceness", env)
    ray, owned = connect(None)
    try:
        assert owned
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == os.nice(0) + nice
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.own_ray  # a runtime that connect() itself starts
def test_a_local_runtime_refuses_a_client_without_the_token(monkeypatch):
    """Issue 23: Ray 2.60 listens on every interface whatever node IP it is given, so the token
    is what guards a local run. Even with RAY_AUTH_MODE=disabled in the environment, a local
    runtime answers a tokenless GCS call with UNAUTHENTICATED. The test also pins Ray's binding:
    when a Ray release binds loopback only, it fails and the README's note can go."""
    import grpc
    import psutil
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    from scalesearch.training.cluster import connect

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.warns(UserWarning, match="RAY_AUTH_MODE=disabled is ignored for a local run"):
        ray, owned = connect(None)
    try:
        assert owned and os.environ["RAY_AUTH_MODE"] == "disabled"  # restored for the caller
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42  # the runtime still works
        host, port = ray.get_runtime_context().gcs_address.rsplit(":", 1)
        ray_pids = {p.pid for p in psutil.Process().children(recursive=True)}
        sockets = _listening(ray_pids)
        gcs = [s for s in sockets if s[1] == int(port)]
        assert gcs, f"GCS port {port} not among the Ray processes' sockets {sockets}"
        assert any(ip in ("0.0.0.0", "::") for ip, _, _ in gcs), \
            f"Ray now binds the GCS to {gcs}: update the README's exposure note"
        with grpc.insecure_channel(f"{host}:{port}") as channel:
            stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetAllNodeInfo(gcs_service_pb2.GetAllNodeInfoRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        ray.shutdown()


def test_an_address_nothing_answers_at_is_refused_at_once():
    """Ray's clients retry 20–30 s before saying a typo'd host or a dead head is unreachable;
    scalesearch checks the host and port first (one line, no wait)."""
    import socket

    from scalesearch.training.cluster import _unreachable, connect

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert _unreachable(f"127.0.0.1:{port}") is None
        assert _unreachable(f"ray://127.0.0.1:{port}") is None
    assert "nothing answers at 127.0.0.1" in _unreachable(f"127.0.0.1:{port}")  # closed now
    assert _unreachable("ray://nowhere.invalid:10001") == "host 'nowhere.invalid' not found"
    assert _unreachable("auto") is None and _unreachable("ray://head") is None  # Ray's to judge
    started = time.monotonic()
    with pytest.raises(ScalesearchError, match=r"cannot start or join Ray \(ray://nowhere"
                                               r"\.invalid:10001\): host 'nowhere\.invalid'"):
        connect("ray://nowhere.invalid:10001")
    assert time.monotonic() - started < 10
