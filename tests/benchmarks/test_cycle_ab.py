"""The A/B driver reads the full cycle's figures from what the cycle benchmark prints."""

from __future__ import annotations

from benchmarks.cycle_ab import full_cycles

OUTPUT = """reusing the 100,000-lead org seeded in 68 s: /tmp/cb/cache/org_100000_7.db
salesforce: model 20261129-111737-50937603 not promoted: holdout AUC 0.9820 is too good to be true
  salesforce: 124.2 s, pulled 784,035, scored 144,891, written 144,891, 167 calls (write 27.5 pull 34.0 graph 16.6 history 0.5 features 3.8 score 4.7 policy 2.4 plan 5.3 commit 24.5; gc 4.7; peak RSS 1,564 MB)
  salesforce: 32.5 s, pulled 146,091, scored 0, written 0, 23 calls (write 0.0 pull 17.9 graph 0.5 history 0.0 plan 11.5 commit 2.1; gc 0.8; peak RSS 1,930 MB)
  hubspot: 156.0 s, pulled 353,120, scored 100,000, written 100,000, 3,361 calls (write 30.1 pull 60.2; gc 2.0; peak RSS 2,001 MB)
{"full_100k_s": 124.16, "incremental_1pct_s": 2.28}
"""


def test_the_first_cycle_of_each_crm_is_read_with_its_phases() -> None:
    found = full_cycles(OUTPUT)
    assert list(found) == ["salesforce", "hubspot"]
    assert found["salesforce"] == {
        "total": 124.2, "write": 27.5, "pull": 34.0, "graph": 16.6, "history": 0.5, "features": 3.8,
        "score": 4.7, "policy": 2.4, "plan": 5.3, "commit": 24.5,
    }  # fmt: skip
    assert found["hubspot"] == {"total": 156.0, "write": 30.1, "pull": 60.2}


def test_output_without_a_cycle_line_gives_nothing() -> None:
    assert full_cycles("reusing the org\nTraceback (most recent call last):\n") == {}
