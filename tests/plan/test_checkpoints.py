"""Checkpoint rotation replayed (plan/checkpoints.py) against transformers' own
trainer_utils.rotate_checkpoints on real folders, driven the way trainer.py _save_checkpoint
drives it; the worst case the disk plan takes."""

import itertools
import os
import random
import shutil

import pytest

from swiftkit.plan.checkpoints import KeptAtEnd, kept_at_end, plan_rotation, replay_rotation


def run_transformers(tmp_path, saves, evals, limit, new_best_at):
    """Folders written and rotated by transformers itself; (most at once, kept at the end)."""
    from transformers.trainer_utils import rotate_checkpoints, sort_checkpoints

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
    if best_folder is not None and limit == 1:
        # trainer.py _finalize_training: "Delete the last checkpoint when save_total_limit=1 if
        # it's different from the best checkpoint" (its loop over sort_checkpoints, restated).
        for folder in sort_checkpoints(run, best_model_checkpoint=best_folder):
            if not os.path.samefile(folder, best_folder):
                shutil.rmtree(folder)
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
    # Three at once while training; at the end _finalize_training leaves the best alone.
    assert (plan.most_at_once, plan.kept, plan.best) == (3, (4,), 4)
    assert plan.kept_if_best_is_latest == (10,)


@pytest.mark.parametrize(("saves", "evals", "limit", "_"), CASES)
def test_kept_at_end_covers_every_outcome_of_the_evaluations(tmp_path, saves, evals, limit, _):
    """Whatever evaluations improve, transformers leaves `folders` folders: the last ones, or
    one of the best candidates and the last ones but the oldest (the best counts toward the
    limit: the tiny demo's run left checkpoint-50 and checkpoint-140 with limit 2)."""
    kept = kept_at_end(saves, evals, save_total_limit=limit)
    outcomes = {(evals[0], *rest) for n in range(len(evals)) for rest in
                itertools.combinations(evals[1:], n)} if evals else {()}  # fmt: skip
    for bests in outcomes:
        _, left = run_transformers(tmp_path, saves, evals, limit, set(bests))
        assert len(left) == kept.folders, (saves, evals, limit, bests)
        if left != kept.if_last_is_best:
            older = set(left) - set(kept.if_last_is_best)
            assert len(older) == 1 and older <= set(kept.best_candidates)
            assert set(left) - older == set(kept.if_last_is_best[1:])


def test_kept_at_end_of_the_tiny_demo(tmp_path):
    """recipes/tiny_demo.yaml: saves every 25 steps and at 140, evaluates at each, limit 2."""
    saves = (25, 50, 75, 100, 125, 140)
    kept = kept_at_end(saves, saves, save_total_limit=2)
    assert kept == KeptAtEnd((125, 140), (25, 50, 75, 100), 2)
    # The user's demo run: eval_loss 1.926 (25), 1.788 (50), 1.824, 1.817, 1.820, 1.822.
    _, left = run_transformers(tmp_path, saves, saves, 2, {25, 50})
    assert left == (50, 140)


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
