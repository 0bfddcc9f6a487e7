"""The paths a new user takes with the wrong file or option: one clear line, exit != 0."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from tests.helpers import T0, click, purchase


def good_log(path: Path, users: int = 5) -> Path:
    events = [click(f"u{n}", T0 + n * 1000) for n in range(users)]
    events += [purchase(f"u{n}", T0 + 10_000 + n) for n in range(users)]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # (rich wraps lines)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"event_time,event_type,product_id\n2019-10-01,view,1\n2019-10-01,cart,2\n", "CSV"),
        (bytes(range(256)) * 8, "binary"),
        (b'[{"type": "click"}]\n', "JSON array"),
    ],
)
def test_a_file_that_is_not_a_pulse_log_fails_naming_what_it_looks_like(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, named: str
) -> None:
    log = tmp_path / "input.dat"
    log.write_bytes(content)
    code, shown = run(["replay", str(log), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert "were refused" in shown and named in shown and "Traceback" not in shown
    # The outputs are still written: dead-letters.jsonl says why each record was refused.
    assert (tmp_path / "out" / "dead-letters.jsonl").stat().st_size > 0


def test_an_empty_log_is_an_error_not_an_empty_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_bytes(b"")
    code, shown = run(["replay", str(log), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2 and "holds no records" in shown


def test_a_cut_short_gzip_log_is_one_line_and_the_earlier_outputs_stay_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    good = good_log(tmp_path / "good.jsonl")
    assert run(["replay", str(good), "--out", str(out), "--quiet"], capsys)[0] == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    whole = gzip.compress(good.read_bytes() * 50)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    code, shown = run(["replay", str(cut), "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "cut short" in shown and "Traceback" not in shown
    # The interrupted replay left nothing of its own: the earlier run's files, unmixed.
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_a_replay_replaces_every_file_of_an_earlier_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    good = good_log(tmp_path / "good.jsonl")
    assert run(["replay", str(good), "--out", str(out), "--all-scores", "--quiet"], capsys)[0] == 0
    assert (out / "churn-scores.jsonl").exists()
    assert run(["replay", str(good), "--out", str(out), "--quiet"], capsys)[0] == 0
    assert not (out / "churn-scores.jsonl").exists()  # not this run's: removed, not stale
    assert not [path for path in out.iterdir() if path.name.startswith(".partial")]


def test_out_naming_an_existing_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = good_log(tmp_path / "good.jsonl")
    taken = tmp_path / "report.txt"
    taken.write_text("keep me")
    code, shown = run(["replay", str(good), "--out", str(taken)], capsys)
    assert code == 2 and "is a file" in shown and taken.read_text() == "keep me"


def test_a_broker_url_that_is_not_host_port_fails_before_any_connection(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, shown = run(["tail", "segment-changes", "--broker", "not-a-url"], capsys)
    assert code == 2 and "is not HOST:PORT" in shown and "kafka://" in shown


def test_the_command_line_starts_without_loading_the_models() -> None:
    # `pulse --help` and a refused argument answer at once: River and SciPy (most of a
    # second to import) load only in the commands that run models.
    import subprocess
    import sys

    probe = (
        "import sys, streams.cli.main; "
        "print(sorted(m for m in ('river', 'scipy', 'models.suite', 'faust') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_config_init_writes_the_sample_and_config_check_validates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "pulse.yaml"
    assert run(["config", "init", str(mine)], capsys)[0] == 0
    code, shown = run(["config", "check", str(mine)], capsys)
    assert code == 0 and "valid" in shown and "8 campaigns" in shown
    assert run(["config", "init", str(mine)], capsys) == (
        2,
        f"error: {mine} exists what to do: pick another name, or pass --force to overwrite it",
    )
    mine.write_text(mine.read_text().replace("dormant_after_days: 30", "dormant_after_days: soon"))
    code, shown = run(["config", "check", str(mine)], capsys)
    assert code == 2 and f"{mine}:" in shown and "dormant_after_days" in shown


def test_topics_says_it_needs_a_broker_and_never_starts_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PULSE_BROKER", raising=False)
    code, shown = run(["topics"], capsys)
    assert code == 2 and "no broker given" in shown
    with pytest.raises(SystemExit):
        main(["topics", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "required" in help_text and "embedded" not in help_text


def test_the_simulator_reports_its_real_count_at_the_end(tmp_path: Path) -> None:
    # The progress bar's total is an estimate; the last update is the real count, so the
    # bar ends full instead of stopping where the estimate was wrong.
    from streams.core.timefmt import parse_ts
    from streams.simulator.generator import SimulationSpec
    from streams.simulator.writer import write_simulation

    seen: list[int] = []
    spec = SimulationSpec(30, 10, 1, parse_ts("2026-01-05T00:00:00Z"))
    counts = write_simulation(tmp_path / "s.jsonl.gz", spec, 0.0, seen.append)
    assert seen[-1] == sum(counts.values())


def test_bench_core_says_what_it_is_doing_round_by_round() -> None:
    from streams.bench.core import round_robin

    lines: list[str] = []
    stages = [("parse", len, [b"x"]), ("sort", sorted, [b"y"])]
    round_robin(stages, 2, lines.append)  # type: ignore[arg-type]
    assert lines == [
        "round 1/2, stage 1/2: parse",
        "round 1/2, stage 2/2: sort",
        "round 2/2, stage 1/2: parse",
        "round 2/2, stage 2/2: sort",
    ]
