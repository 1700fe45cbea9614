"""Progress of long calls: one text block per call, a bar over rounds x networks."""

from __future__ import annotations

from lottery_core.book import progress


def test_line_writer_hands_over_complete_lines():
    lines = []
    writer = progress.LineWriter(lines.append)
    writer.write("round 1 | a")
    assert lines == []
    writer.write("bc\nround 2\nrou")
    assert lines == ["round 1 | abc", "round 2"]
    writer.close()
    assert lines[-1] == "rou"


def test_networks_per_round_counts_tickets_and_controls():
    assert progress.networks_per_round(3, 2, 2, [2]) == [2, 2, 6, 2]
    assert progress.networks_per_round(3, 2, 2, None) == [2, 6, 6, 6]
    assert progress.networks_per_round(2, 5, 0, None) == [5, 5, 5]


def test_a_block_prints_once_at_the_end(capsys):
    with progress.progress_block(3, desc="test") as block:
        print("first line")
        block.advance(2)
        block.log("second line")
        print("third", "line")
        assert capsys.readouterr().out == ""  # nothing shown while the call runs
    assert capsys.readouterr().out == "first line\nsecond line\nthird line\n"


def test_run_imp_with_progress_is_run_imp_in_one_block(tiny_imp, tmp_path, capsys):
    result, data = tiny_imp
    config = result.config
    kwargs = {"rounds": 3, "seeds": [0, 1, 2], "control": ["reinit", "random_prune"], "control_rounds": [1, 3],
              "data": data}
    seen = []
    original = progress.Block.advance
    progress.Block.advance = lambda self, n=1: (seen.append(n), original(self, n))[1]
    try:
        again = progress.run_imp_with_progress(config, **kwargs, cache_dir=tmp_path)
    finally:
        progress.Block.advance = original
    out = capsys.readouterr().out
    assert out.count("round ") == 4 and out.rstrip().endswith("s in all")
    assert seen == [3, 9, 3, 9]  # the bar moves by each round's networks
    assert again.to_frame().equals(result.to_frame())
    # a second call loads the cache folder of the first: same call, same records
    progress.run_imp_with_progress(config, **kwargs, cache_dir=tmp_path)
    assert capsys.readouterr().out.count("resumed from checkpoint") == 4
