"""``python -m sila_billing.billrun YYYY-MM``: the period's bill run, with a progress bar.

Safe to run again or after a crash: it resumes where the last committed batch stopped, and a
line is never billed twice for a period. The same run is behind ``POST /v1/bill-runs``.
"""

from __future__ import annotations

import argparse
import asyncio

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from sila_billing.flows import bills
from sila_billing.service import definition
from sila_billing.settings import BillingSettings, get_settings
from sila_common.runtime import open_runtime


async def run(period: str, batch_size: int, settings: BillingSettings | None = None) -> int:
    async with open_runtime(definition, settings=settings or get_settings()) as runtime:
        total = await bills.count_lines(runtime)
        started = await bills.start_run(runtime, period, "system:billrun-cli")
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as progress:
            task = progress.add_task(f"Bills {period}", total=total)
            finished = await bills.run_to_end(
                runtime,
                started["id"],
                batch_size,
                progress=lambda done: progress.advance(task, done),
            )
        print(f"{period}: {finished['issued']} bills, run {finished['status']}")
        return int(finished["issued"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Issue the period's bills of postpaid lines")
    parser.add_argument("period", help="YYYY-MM")
    parser.add_argument("--batch-size", type=int, default=get_settings().bill_run_batch_size)
    args = parser.parse_args(argv)
    asyncio.run(run(args.period, args.batch_size))


if __name__ == "__main__":
    main()
