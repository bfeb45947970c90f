"""Fault tolerance of the Ray backend (issue 18): a 2-node cluster on this machine (1 CPU each);
the second node is killed mid-sweep; its units are retried on the head with the same seeds and
the table equals the local backend's. Skipped where Ray is not installed."""

import threading
import time

import pandas as pd
import pytest

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from commgan.comm.registry import build_system  # noqa: E402
from commgan.parallel import Backend  # noqa: E402
from commgan.sim.config import SimulationConfig  # noqa: E402
from commgan.sim.sweep import run_sweep  # noqa: E402


def test_a_node_lost_mid_sweep_loses_no_result():
    systems = {"qam": build_system("qam", "16qam"), "qam-ssd": build_system("qam-ssd", "16qam")}
    config = SimulationConfig(channel="rayleigh", systems=("qam", "qam-ssd"),
                              ebno_db=tuple(float(x) for x in range(0, 24, 2)),
                              target_errors=1 << 40, max_bits=6_000_000, batch_bits=1 << 18)
    local = run_sweep(config, systems, progress=False, jobs=2)
    if ray.is_initialized():
        ray.shutdown()
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 200 * 2**20, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1, object_store_memory=200 * 2**20)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        killed = threading.Event()

        def kill_second_node() -> None:
            time.sleep(4.0)
            cluster.remove_node(worker, allow_graceful=False)
            killed.set()

        threading.Thread(target=kill_second_node, daemon=True).start()
        started = time.perf_counter()
        remote = run_sweep(config, systems, progress=False, jobs=2,
                           backend=Backend("ray", cluster.address))
        assert killed.is_set() and time.perf_counter() - started > 4.0, "killed mid-sweep"
    finally:
        ray.shutdown()
        cluster.shutdown()
    columns = ["system", "receiver", "ebno_db", "frames", "bits", "errors", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(local[columns], remote[columns])
