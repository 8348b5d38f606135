"""Step arithmetic against the figures verified with real ms-swift runs (see shared notes)."""

import pytest

from swiftkit.plan.schedule import (
    abbreviate,
    make_schedule,
    rows_per_rank,
    stop_step,
    updates_for,
    warmup_for,
)


@pytest.mark.parametrize(
    ("rows", "world", "batch", "accumulation", "epochs", "max_steps"),
    [
        (49, 1, 1, 16, 10, 40),  # the reference setup: 4 updates per epoch, not the article's 31
        (50, 1, 1, 4, 2, 26),
        (10, 1, 1, 3, 1.5, 6),
        (7, 2, 1, 2, 1, 2),  # 7 // 2 = 3 rows per process -> 3 batches -> 2 updates
        (45, 2, 1, 2, 1, 11),  # 45 // 2 = 22 rows per process -> 11 updates (not 12)
        (5, 1, 2, 16, 3, 3),  # fewer batches than accumulation still makes one update per epoch
    ],
)
def test_max_steps_matches_trainer(rows, world, batch, accumulation, epochs, max_steps):
    s = make_schedule(rows, world_size=world, batch=batch, accumulation=accumulation, epochs=epochs)
    assert s.max_steps == max_steps
    assert s.effective_batch_size == batch * accumulation * world


def test_updates_per_epoch_rounds_up():
    assert updates_for(49, world_size=1, batch=1, accumulation=16) == (49, 4)
    assert updates_for(48, world_size=1, batch=1, accumulation=16) == (48, 3)


def test_max_steps_flag_wins_over_epochs():
    s = make_schedule(49, world_size=1, batch=1, accumulation=16, epochs=10, max_steps_flag=7)
    assert s.max_steps == 7


def test_warmup_ratio_rounds_up_and_steps_are_absolute():
    assert warmup_for(40, warmup_steps=0, warmup_ratio=0.05) == 2
    assert warmup_for(40, warmup_steps=3, warmup_ratio=0) == 3
    assert warmup_for(40, warmup_steps=0.1, warmup_ratio=0) == 4


def test_log_eval_save_steps_with_final_save_and_eval():
    s = make_schedule(
        49,
        world_size=1,
        batch=1,
        accumulation=16,
        epochs=10,
        logging_steps=5,
        eval_steps=15,
        save_steps=15,
        save_total_limit=2,
        eval_strategy="steps",
    )
    assert s.log_steps_at == (1, 5, 10, 15, 20, 25, 30, 35, 40)
    assert s.eval_steps_at == (15, 30, 40)
    assert s.save_steps_at == (15, 30, 40)
    assert s.checkpoints_kept == (30, 40)
    assert s.keeps_best_checkpoint


def test_no_eval_without_validation_and_final_save_always():
    s = make_schedule(
        49,
        world_size=1,
        batch=1,
        accumulation=16,
        epochs=10,
        eval_steps=50,
        save_steps=50,
        eval_strategy="no",
    )
    assert s.eval_steps_at == ()
    assert s.save_steps_at == (40,)
    assert not s.keeps_best_checkpoint


def test_fractional_steps_are_ratios_of_max_steps():
    s = make_schedule(
        100,
        world_size=1,
        batch=1,
        accumulation=1,
        epochs=1,
        logging_steps=0.1,
        save_steps=0.25,
        logging_first_step=False,
    )
    assert s.logging_steps == 10
    assert s.save_steps_at == (25, 50, 75, 100)


def test_abbreviate_long_lists():
    assert abbreviate(()) == "never"
    assert abbreviate((1, 2)) == "1, 2"
    assert abbreviate(tuple(range(5, 105, 5))) == "5, 10, 15, 20, ... 95, 100 (20 in all)"


def test_epoch_strategies_evaluate_and_save_at_epoch_ends():
    s = make_schedule(
        49, world_size=1, batch=1, accumulation=16, epochs=2.5,
        eval_strategy="epoch", save_strategy="epoch",
    )  # fmt: skip
    assert s.max_steps == 10
    assert s.eval_steps_at == (4, 8, 10)
    assert s.save_steps_at == (4, 8, 10)
    assert make_schedule(49, world_size=1, batch=1, accumulation=16, epochs=1,
                         save_strategy="no").save_steps_at == ()  # fmt: skip


def test_each_rank_drops_the_remainder_rows():
    """swift/dataloader/shard.py BatchSamplerShard: total_samples // world_size per rank."""
    assert rows_per_rank(45, world_size=2) == 22
    assert rows_per_rank(7, world_size=4) == 1
    assert rows_per_rank(3, world_size=4) == 0
    assert updates_for(45, world_size=2, batch=1, accumulation=2) == (22, 11)
    assert updates_for(45, world_size=2, batch=4, accumulation=1) == (6, 6)  # short batch kept
    assert updates_for(45, world_size=2, batch=4, accumulation=1, drop_last=True) == (5, 5)


def test_sequence_parallel_samples_over_data_parallel_ranks_rounding_up():
    """swift/sequence_parallel/utils.py SequenceParallelSampler (round_up=True): each of the
    world // SP data-parallel ranks gets ceil(N / (world // SP)) rows."""
    # 8 GPUs, SP 8: one data-parallel rank reads every row: 8x the updates of plain DDP.
    sp8 = make_schedule(100, world_size=8, batch=1, accumulation=4, epochs=1, sequence_parallel=8)
    ddp = make_schedule(100, world_size=8, batch=1, accumulation=4, epochs=1)
    assert (sp8.rows_per_process, sp8.updates_per_epoch, sp8.max_steps) == (100, 25, 25)
    assert (ddp.rows_per_process, ddp.max_steps) == (12, 3)
    assert sp8.effective_batch_size == 4 and ddp.effective_batch_size == 32
    assert sp8.data_parallel_size == 1
    # 8 GPUs, SP 2: 4 data-parallel ranks, 101 rows rounded up to 26 each (not 25).
    sp2 = make_schedule(101, world_size=8, batch=1, accumulation=4, epochs=1, sequence_parallel=2)
    assert (sp2.data_parallel_size, sp2.rows_per_process, sp2.updates_per_epoch) == (4, 26, 7)
    assert sp2.effective_batch_size == 1 * 4 * 4


def test_max_epochs_stops_at_that_epoch_end_and_evaluates_and_saves_there():
    """swift/trainers/patcher.py DefaultFlowCallbackNew.on_epoch_end: stop once
    max_epochs <= ceil(state.epoch); max_steps stays sized by num_train_epochs."""
    assert stop_step(36, 12, None) == 36
    assert stop_step(36, 12, 1) == 12
    assert stop_step(36, 12, 0) == 12  # checked after the first epoch already
    assert stop_step(36, 12, 5) == 36
    s = make_schedule(
        45, world_size=1, batch=1, accumulation=4, epochs=3, max_epochs=1,
        eval_steps=5, save_steps=5, eval_strategy="steps", logging_steps=5, warmup_ratio=0.1,
    )  # fmt: skip
    assert (s.max_steps, s.last_step, s.warmup_steps) == (36, 12, 4)
    assert s.eval_steps_at == s.save_steps_at == (5, 10, 12)
    assert s.log_steps_at == (1, 5, 10)
    epochs = make_schedule(
        45, world_size=1, batch=1, accumulation=4, epochs=3, max_epochs=2,
        eval_strategy="epoch", save_strategy="epoch",
    )  # fmt: skip
    assert epochs.last_step == 24 and epochs.save_steps_at == (12, 24)
    no_save = make_schedule(45, world_size=1, batch=1, accumulation=4, epochs=3, max_epochs=1,
                            save_strategy="no")  # fmt: skip
    assert no_save.save_steps_at == () and no_save.last_step == 12


def test_save_total_limit_zero_or_negative_keeps_every_checkpoint():
    for limit in (0, -1, None):
        s = make_schedule(40, world_size=1, batch=1, accumulation=1, epochs=1, save_steps=10,
                          save_total_limit=limit)  # fmt: skip
        assert s.checkpoints_kept == (10, 20, 30, 40) and s.checkpoints_at_once == 4
