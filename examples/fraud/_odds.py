"""How often would the detectors misbehave on other samples of this stream?

``run.py`` scores one seeded sample of the live transactions. This re-draws that sample many
times (the same model, the same labels) and runs ADWIN and DDM, as the performance report does,
over each one's error stream: how often each fires before the change, and how long after it each
first fires. ``python examples/fraud/_odds.py [--draws 200]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402

from examples._shared import open_store, prepare_workdir  # noqa: E402
from examples.fraud import _generate as gen  # noqa: E402
from examples.fraud.run import SAMPLE_SEED, SCORED, SERVICE, _spine, fit, setup  # noqa: E402
from featurestore.parity.detectors import run_detectors  # noqa: E402


def odds(draws: int) -> dict[str, float]:
    """False-alarm rates before the change and first-alarm delays (days) after it, per detector."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(prepare_workdir(HERE, Path(tmp))) as store,
    ):
        history, live = setup(store, store.repo_path)
        model, _ = fit(store, history)
        features = store.get_training_frame(_spine(live), service=SERVICE)
    errors = (model.predict(features) >= 0.5) != (features.get_column("is_fraud").to_numpy() == 1)
    times = features.get_column("booked_at").to_list()
    early = {"ADWIN": 0, "DDM": 0}
    delays: dict[str, list[float]] = {"ADWIN": [], "DDM": []}
    for seed in range(draws):
        picked = np.sort(np.random.default_rng(seed).choice(len(times), SCORED, replace=False))
        alarms = run_detectors(
            errors[picked].astype(float).tolist(), [times[i] for i in picked], binary=True
        )
        for name in early:
            mine = [a.timestamp for a in alarms if a.detector == name and a.timestamp is not None]
            early[name] += any(t < gen.CHANGE for t in mine)
            after = [(t - gen.CHANGE).total_seconds() / 86_400 for t in mine if t >= gen.CHANGE]
            delays[name].append(min(after, default=np.inf))
    out: dict[str, float] = {"draws": draws}
    for name in early:
        out[f"{name}_false_alarm_rate"] = early[name] / draws
        out[f"{name}_median_delay_days"] = float(np.median(delays[name]))
        out[f"{name}_p90_delay_days"] = float(np.quantile(delays[name], 0.9))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=200)
    result = odds(parser.parse_args().draws)
    for key, value in result.items():
        print(f"{key:>28}: {value:.3g}")
    print(f"{'run.py sample seed':>28}: {SAMPLE_SEED}")
