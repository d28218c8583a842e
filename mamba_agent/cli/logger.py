"""The SB3 logger of a run directory: stdout, CSV (``progress.csv``) and TensorBoard, where a
resumed run appends to the CSV of the run it continues instead of overwriting it."""

from __future__ import annotations

import os
import sys

from stable_baselines3.common.logger import (
    CSVOutputFormat,
    HumanOutputFormat,
    KVWriter,
    Logger,
    TensorBoardOutputFormat,
)

from mamba_agent.cli.run_dir import truncate_rows

__all__ = ["AppendingCSVOutputFormat", "make_run_logger"]


class AppendingCSVOutputFormat(CSVOutputFormat):
    """SB3's CSV writer, continuing an existing file: the rows after the first ``keep_rows`` are
    dropped (a crashed run wrote them after its last checkpoint; the resumed run writes them
    again), the header's columns are kept, and new rows are appended. A column first seen later
    rewrites the file with the wider header, as SB3's writer does."""

    def __init__(self, filename: str, keep_rows: int | None = None) -> None:
        if keep_rows is None or not os.path.exists(filename):
            super().__init__(filename)
            return
        from pathlib import Path

        truncate_rows(Path(filename), keep_rows)
        self.file = open(filename, "r+")  # noqa: SIM115  (closed by close())
        header = self.file.readline().strip()
        self.keys = header.split(",") if header else []
        self.file.seek(0, os.SEEK_END)
        self.separator = ","
        self.quotechar = '"'


def make_run_logger(folder: str, verbose: int, keep_rows: int | None = None) -> Logger:
    """Logger writing to ``folder``: ``progress.csv`` (continued after ``keep_rows`` rows when
    resuming), TensorBoard event files, and stdout when ``verbose >= 1``."""
    os.makedirs(folder, exist_ok=True)
    formats: list[KVWriter] = []
    if verbose >= 1:
        formats.append(HumanOutputFormat(sys.stdout))
    formats.append(AppendingCSVOutputFormat(os.path.join(folder, "progress.csv"), keep_rows))
    formats.append(TensorBoardOutputFormat(folder))
    return Logger(folder=folder, output_formats=formats)
