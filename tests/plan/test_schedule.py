"""Step arithmetic against the figures verified with real ms-swift runs (see shared notes)."""

import pytest

from swiftkit.plan.schedule import abbreviate, make_schedule, updates_for, warmup_for


@pytest.mark.parametrize(
    ("rows", "world", "batch", "accumulation", "epochs", "max_steps"),
    [
        (49, 1, 1, 16, 10, 40),  # the reference setup: 4 updates per epoch, not the article's 31
        (50, 1, 1, 4, 2, 26),
        (10, 1, 1, 3, 1.5, 6),
        (7, 2, 1, 2, 1, 2),  # ceil(7/2)=4 rows per process -> 4 batches -> 2 updates
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
