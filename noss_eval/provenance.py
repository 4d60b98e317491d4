"""Provenance for the report: the runs file's records, and what each shown run was (command,
versions, data source, seed, protocol in plain words)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noss_eval.errors import NossError
from noss_eval.leaderboard import run_records
from noss_eval.probes import PROTOCOL_NOTES


@dataclass(frozen=True)
class Run:
    id: str
    command: str
    command_note: str
    versions: list[tuple[str, str]]
    data: str
    seed: str
    protocol: str
    created: str
    produced: list[str]


def load_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The runs file's records by run_id ({} when absent); a record without one is refused."""
    records = {}
    for n, record in enumerate(run_records(path, "report --runs"), start=1):
        if "run_id" not in record:
            raise NossError(
                f"report --runs: {path}: run record {n} has no run_id; fix or move the file"
            )
        records[str(record["run_id"])] = record
    return records


def runs_of(
    first_row: dict[str, dict[str, str]],
    produced: dict[str, list[str]],
    records: dict[str, dict[str, Any]],
) -> list[Run]:
    """One Run per run id (oldest first), from its record when the runs file has one, else from
    what its rows carry."""
    runs = []
    for run_id, row in sorted(first_row.items(), key=lambda kv: (kv[1].get("created", ""), kv[0])):
        record = records.get(run_id)
        if record is None:
            command, note = "", "no record of this run in the runs file"
        elif record.get("command"):
            command, note = shlex.join(str(a) for a in record["command"]), ""
        else:
            command, note = _command_from(record), "reconstructed from the recorded configuration"
        versions = (record or {}).get("versions") or {"noss-eval": row.get("noss_eval_version")}
        data = row.get("data_source", "")
        where = (record or {}).get("tfds_data_dir") or (record or {}).get("data_dir")
        runs.append(
            Run(
                id=run_id,
                command=command,
                command_note=note,
                versions=sorted((str(k), str(v)) for k, v in versions.items()),
                data=f"{data} ({where})" if where else data,
                seed=row.get("seed", ""),
                protocol=PROTOCOL_NOTES.get(row["protocol"], row["protocol"]),
                created=row.get("created", ""),
                produced=produced[run_id],
            )
        )
    return runs


def _command_from(record: dict[str, Any]) -> str:
    """The command line a record written before commands were recorded amounts to."""
    demo = record.get("data_label") == "synthetic-demo"
    args = ["noss-eval", "--demo"] if demo else ["noss-eval", "--embedder", record["embedder"]]
    if demo and record.get("embedder") != "dsp":
        args += ["--embedder", str(record.get("embedder"))]
    args += [f"--embedder-option={k}={v}" for k, v in record.get("embedder_options", {}).items()]
    flags = {
        "--data-dir": None if demo or record.get("source") == "tfds" else record.get("data_dir"),
        "--source": None if record.get("source") in (None, "layout") else record["source"],
        "--tfds-data-dir": record.get("tfds_data_dir"),
        "--tasks": ",".join(record.get("tasks") or ()),
        "--protocol": None if record.get("protocol") == "noss-eval" else record.get("protocol"),
        "--reference": record.get("reference"),
        "--seed": None if not record.get("seed") else str(record["seed"]),
        "--leaderboard": record.get("leaderboard"),
    }
    args += [x for flag, value in flags.items() if value for x in (flag, str(value))]
    return shlex.join(args)
