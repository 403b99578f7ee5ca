"""The rebuild's progress lines: one each time the count passes a multiple of 50 000."""

import logging

from services.reporting.rebuild import progress_log


def replayed_lines(batch, total, caplog):
    progress = progress_log(50_000)
    with caplog.at_level(logging.INFO, logger="services.reporting.rebuild"):
        for replayed in range(batch, total + batch, batch):
            progress(min(replayed, total))
    return [record.getMessage() for record in caplog.records]


def test_a_batch_size_that_divides_the_step_logs_at_each_multiple(caplog):
    assert replayed_lines(5000, 120_000, caplog) == [
        "50000 events replayed",
        "100000 events replayed",
    ]


def test_a_batch_size_that_does_not_divide_the_step_still_logs_every_step(caplog):
    # 3000 a batch: the count never lands on 50 000 or 100 000 (the old n % 50_000 == 0
    # said nothing until 150 000)
    assert replayed_lines(3000, 160_000, caplog) == [
        "51000 events replayed",
        "102000 events replayed",
        "150000 events replayed",
    ]


def test_a_partial_last_batch_past_a_multiple_is_logged(caplog):
    assert replayed_lines(7000, 52_000, caplog) == ["52000 events replayed"]
