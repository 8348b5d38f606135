"""Checkpoint rotation replayed (plan/checkpoints.py) against transformers' own
trainer_utils.rotate_checkpoints on real folders, driven the way trainer.py _save_checkpoint
drives it; the worst case the disk plan takes."""

import itertools
import os
import random

import pytest

from swiftkit.plan.checkpoints import plan_rotation, replay_rotation


def run_transformers(tmp_path, saves, evals, limit, new_best_at):
    """Folders written and rotated by transformers itself; (most at once, kept at the end)."""
    from transformers.trainer_utils import rotate_checkpoints

    run = tmp_path / f"run-{random.random()}"
    run.mkdir()
    best_step = best_folder = None
    most, clock = 0, 1_000_000
    for step in sorted(set(saves) | set(evals)):
        if step in evals and step in new_best_at:  # _determine_best_metric
            best_step = step
        if step not in saves:
            continue
        folder = run / f"checkpoint-{step}"
        folder.mkdir(exist_ok=True)
        clock += 10
        os.utime(folder, (clock, clock))  # mtime order = save order, as on a real disk
        most = max(most, len(list(run.glob("checkpoint-*"))))
        if best_step is not None and (run / f"checkpoint-{best_step}").exists():
            best_folder = str(run / f"checkpoint-{best_step}")  # _save_checkpoint
        rotate_checkpoints(run, limit, best_folder, use_mtime=True)
    kept = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    return most, tuple(kept)


CASES = [
    # saves, evals, limit, new bests: the case (saves between evals, limit 1, eval loss
    # rising after the first eval) and its neighbours.
    ((2, 4, 6, 8, 10), (4, 8, 10), 1, {4}),
    ((2, 4, 6, 8, 10), (4, 8, 10), 1, {4, 8, 10}),
    ((2, 4, 6, 8, 10), (4, 8, 10), 2, {4}),
    ((5, 10, 15, 20), (5, 10, 15, 20), 1, {5}),
    ((5, 10, 15, 20), (5, 10, 15, 20), 1, {5, 10, 15, 20}),
    ((5, 10, 15, 20), (3, 6, 9, 20), 1, {3, 6, 9}),  # evals never coincide with saves
    ((5, 10, 15, 20), (), 2, set()),
    ((5, 10, 15, 20), (10, 20), 0, {10}),
    ((5, 10, 15, 20), (10, 20), -1, {10}),
    ((5, 10, 15, 20), (10, 20), None, {10}),
]


@pytest.mark.parametrize(("saves", "evals", "limit", "bests"), CASES)
def test_replay_matches_transformers(tmp_path, saves, evals, limit, bests):
    replay = replay_rotation(saves, evals, save_total_limit=limit, new_best_at=bests)
    assert (replay.most_at_once, replay.kept) == run_transformers(
        tmp_path, saves, evals, limit, bests
    )


def test_replay_matches_transformers_on_random_schedules(tmp_path):
    rng = random.Random(11)
    for _ in range(40):
        last = rng.randint(2, 30)
        saves = sorted(rng.sample(range(1, last + 1), rng.randint(1, min(8, last))))
        evals = sorted(rng.sample(range(1, last + 1), rng.randint(0, min(6, last))))
        bests = {e for e in evals if rng.random() < 0.5} | set(evals[:1])
        limit = rng.choice([None, -1, 0, 1, 2, 3])
        replay = replay_rotation(saves, evals, save_total_limit=limit, new_best_at=bests)
        got = run_transformers(tmp_path, saves, evals, limit, bests)
        assert (replay.most_at_once, replay.kept) == got, (saves, evals, limit, bests)


def test_limit_one_with_an_older_best_has_three_folders_at_once():
    plan = plan_rotation((2, 4, 6, 8, 10), (4, 8, 10), save_total_limit=1)
    assert (plan.most_at_once, plan.kept, plan.best) == (3, (4, 10), 4)
    assert plan.kept_if_best_is_latest == (10,)


def test_worst_case_is_the_most_over_every_sequence_of_bests():
    """plan_rotation's fixed first best gives the most folders any eval outcome can."""
    for saves, evals, limit, _ in CASES:
        worst = plan_rotation(saves, evals, save_total_limit=limit).most_at_once
        every = [
            replay_rotation(saves, evals, save_total_limit=limit,
                            new_best_at={evals[0], *rest}).most_at_once
            for n in range(len(evals))
            for rest in itertools.combinations(evals[1:], n)
        ] if evals else [worst]  # fmt: skip
        assert worst == max(every), (saves, evals, limit)
