"""The statistical contract: dbslm's MKN equals KenLM's lmplz on the pentateuch corpus."""

from __future__ import annotations

import gzip

import kenlm
import pytest

from dbslm.ngram.arpa import read_arpa
from tests.helpers import table_rows


def arpa_entries(path) -> dict[tuple[str, ...], tuple[float, float]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        orders = read_arpa(f, str(path))
    return {tuple(w): (p, b) for o in orders for w, p, b in zip(o.words, o.logp.tolist(), o.backoff.tolist())}


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_perplexity_matches_kenlm(cli, db, kjv, reference, order):
    assert cli("train", kjv / "train.txt", "--db", db, "--order", order, "--tokenizer", "whitespace").code == 0
    result = cli("eval", kjv / "test.txt", "--db", db, "--json").json()
    expected = reference["orders"][str(order)]
    assert result["perplexity_including_oovs"] == pytest.approx(expected["perplexity_including_oovs"], rel=1e-4)
    assert result["perplexity_excluding_oovs"] == pytest.approx(expected["perplexity_excluding_oovs"], rel=1e-4)
    assert result["oovs"] == expected["oovs"]
    assert result["tokens"] == expected["tokens_including_end_of_sentence"]
    counts = dict(table_rows(db, "SELECT n, COUNT(*) FROM ngrams GROUP BY n"))
    assert {str(n): c for n, c in counts.items()} == expected["ngram_counts"]


def test_every_ngram_matches_kenlm_arpa(cli, db, kjv, tmp_path):
    cli("train", kjv / "train.txt", "--db", db, "--order", 3, "--tokenizer", "whitespace")
    exported = tmp_path / "ours.arpa"
    assert cli("export-arpa", exported, "--db", db).code == 0
    ours = arpa_entries(exported)
    theirs = arpa_entries(kjv / "kenlm-order3.arpa.gz")
    assert ours.keys() == theirs.keys()
    worst_p = max(abs(ours[k][0] - theirs[k][0]) for k in theirs)
    worst_b = max(abs(ours[k][1] - theirs[k][1]) for k in theirs)
    assert worst_p < 1e-4 and worst_b < 1e-4, (worst_p, worst_b)


def test_exported_arpa_scores_the_same_in_kenlm(cli, db, kjv, tmp_path):
    cli("train", kjv / "train.txt", "--db", db, "--order", 4, "--tokenizer", "whitespace")
    ours = cli("eval", kjv / "test.txt", "--db", db, "--json").json()
    exported = tmp_path / "ours.arpa.gz"
    assert cli("export-arpa", exported, "--db", db).code == 0
    model = kenlm.Model(str(exported))
    lines = (kjv / "test.txt").read_text().splitlines()
    total = sum(model.score(line, bos=True, eos=True) for line in lines)
    tokens = sum(len(line.split()) + 1 for line in lines)
    assert 10 ** (-total / tokens) == pytest.approx(ours["perplexity_including_oovs"], rel=1e-6)


def test_imported_kenlm_arpa_evaluates_to_kenlm_perplexity(cli, db, kjv, reference):
    result = cli("import-arpa", kjv / "kenlm-order3.arpa.gz", "--db", db, "--model", "kenlm")
    assert result.code == 0, result.err
    scored = cli("eval", kjv / "test.txt", "--db", db, "--model", "kenlm", "--json").json()
    expected = reference["orders"]["3"]
    assert scored["perplexity_including_oovs"] == pytest.approx(expected["perplexity_including_oovs"], rel=1e-4)
    assert scored["perplexity_excluding_oovs"] == pytest.approx(expected["perplexity_excluding_oovs"], rel=1e-4)
    assert scored["oovs"] == expected["oovs"]


def test_quantized_perplexity_within_two_percent(cli, db, kjv):
    """A model imported from an ARPA file stores probabilities with their 8-bit codes."""
    cli("import-arpa", kjv / "kenlm-order3.arpa.gz", "--db", db, "--model", "kjv", "--tokenizer", "whitespace")
    exact = cli("eval", kjv / "test.txt", "--db", db, "--model", "kjv", "--json").json()
    quantized = cli("eval", kjv / "test.txt", "--db", db, "--model", "kjv", "--json", "--quantized").json()
    drift = quantized["perplexity_including_oovs"] / exact["perplexity_including_oovs"] - 1
    print(f"quantized perplexity drift: {drift:+.3%}")
    assert quantized["perplexity_including_oovs"] != exact["perplexity_including_oovs"]
    assert abs(drift) < 0.02


def test_a_trained_model_has_no_codes_to_score_with(cli, db, kjv):
    cli("train", kjv / "train.txt", "--db", db, "--order", 3, "--tokenizer", "whitespace")
    result = cli("eval", kjv / "test.txt", "--db", db, "--json", "--quantized")
    assert result.code != 0 and "no 8-bit codes" in result.err and "Traceback" not in result.err
