"""Unit checks of the pure Level 1 pieces against brute force."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbslm.ngram import hashing
from dbslm.ngram.counting import count_ngrams, distinct, merge_counts
from dbslm.ngram.kneser_ney import estimate, with_unk
from dbslm.ngram.quantize import quantize
from dbslm.ngram.tables import context_keys, counts_from_rows
from dbslm.text.vocab import BOS, EOS, SEP, Vocabulary

sentences_strategy = st.lists(st.lists(st.sampled_from("abcde"), min_size=1, max_size=8), min_size=1, max_size=12)


def brute_counts(sentences: list[list[str]], order: int, vocab: Vocabulary) -> list[Counter]:
    result = [Counter() for _ in range(order)]
    for s in sentences:
        ids = [BOS] + [vocab.index[w] for w in s] + [EOS]
        for n in range(1, order + 1):
            for i in range(len(ids) - n + 1):
                result[n - 1][tuple(ids[i : i + n])] += 1
    return result


def as_tuples(counts) -> list[Counter]:
    tuples: list[list[tuple]] = []
    out = []
    for i, oc in enumerate(counts):
        words = oc.words.tolist()
        if i == 0:
            grams = [(w,) for w in words]
        else:
            grams = [tuples[i - 1][p] + (w,) for p, w in zip(oc.parents.tolist(), words)]
        tuples.append(grams)
        out.append(Counter(dict(zip(grams, oc.counts.tolist()))))
    return out


@given(sentences_strategy, st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_counting_equals_brute_force(sentences, order):
    vocab = Vocabulary()
    ids = vocab.encode(sentences, grow=True)
    assert as_tuples(count_ngrams(ids, order)) == brute_counts(sentences, order, vocab)


@given(sentences_strategy, sentences_strategy)
@settings(max_examples=40, deadline=None)
def test_merge_adds_and_subtracts(a, b):
    vocab = Vocabulary()
    ids_a, ids_b = vocab.encode(a, grow=True), vocab.encode(b, grow=True)
    ca, cb = count_ngrams(ids_a, 3), count_ngrams(ids_b, 3)
    both = merge_counts(ca, cb)
    assert as_tuples(both) == as_tuples(count_ngrams(np.concatenate((ids_a, ids_b)), 3))
    negative_b = [type(o)(o.keys, -o.counts) for o in cb]
    assert as_tuples(merge_counts(both, negative_b)) == as_tuples(ca)


@given(sentences_strategy)
@settings(max_examples=30, deadline=None)
def test_counts_survive_the_round_trip_through_rows(sentences):
    counts = count_ngrams(Vocabulary().encode(sentences, grow=True), 4)
    ctx, _ = context_keys(counts)
    rows = [(c[::-1], o.words[::-1], o.counts[::-1]) for c, o in zip(ctx, counts)]  # any row order
    assert as_tuples(counts_from_rows(rows)) == as_tuples(counts)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50), st.integers(1, 3))
def test_distinct_values_are_those_of_np_unique(values, repeats):
    array = np.array(values * repeats, dtype=np.int64)
    assert distinct(array).tolist() == np.unique(array).tolist()


def test_python_and_numpy_hashes_agree():
    rng = np.random.default_rng(1)
    seqs = rng.integers(0, 2**31, size=(50, 4))
    keys = np.full(50, hashing.EMPTY_KEY, dtype=np.int64)
    for column in range(4):
        keys = hashing.extend_array(keys, seqs[:, column])
    assert keys.tolist() == [hashing.context_key(s) for s in seqs.tolist()]
    assert hashing.context_key([1, 2]) != hashing.context_key([2, 1])
    assert hashing.context_key([]) == hashing.EMPTY_KEY


def test_quantize_is_exact_for_few_values_and_close_for_many():
    few = np.array([-1.0, -2.0, -1.0, -3.5])
    codes, lut = quantize(few)
    assert lut[codes].tolist() == few.tolist()
    many = -np.random.default_rng(0).gamma(2.0, 1.5, size=100_000)
    codes, lut = quantize(many)
    assert codes.dtype == np.uint8 and len(lut) == 256
    assert np.abs(lut[codes] - many).mean() < 0.02


def test_vocabulary_drops_forged_control_tokens_and_maps_unknowns():
    vocab = Vocabulary()
    ids = vocab.encode([["a", "</s>", "b"], ["<s>"], []], grow=True)
    assert ids.tolist() == [BOS, 4, 5, EOS]
    assert vocab.encode([["a", "zzz"]], grow=False).tolist() == [BOS, 4, 0, EOS]


def test_dialog_pairs_are_framed_with_their_separator_and_a_pair_without_a_response_is_left_out():
    vocab = Vocabulary()
    pairs = [(["hi", "<sep>"], ["yo", "hi"]), (["lost"], ["</s>"]), ([], ["ok"]), (["q"], [])]
    ids = vocab.encode_dialog(pairs, grow=True)
    yo, hi, ok = (vocab.index[w] for w in ("yo", "hi", "ok"))
    assert ids.tolist() == [BOS, hi, SEP, yo, hi, EOS, BOS, SEP, ok, EOS]
    assert vocab.texts[4:] == ["yo", "hi", "ok"]  # a response's words first; a dropped pair's none
    assert vocab.encode_dialog([(["zzz", "hi"], ["yo"])], grow=False).tolist() == [BOS, 0, hi, SEP, yo, EOS]


@given(sentences_strategy)
@settings(max_examples=60, deadline=None)
def test_probabilities_sum_to_one_in_every_context(sentences):
    """Unigrams, and each bigram context with back-off to the unigrams, are distributions
    over the vocabulary without <s> - also on tiny corpora with fallback discounts."""
    counts = with_unk(count_ngrams(Vocabulary().encode(sentences, grow=True), 2))
    est = estimate(counts)
    (uni_ctx, bi_ctx), _ = context_keys(counts)
    uni_words, bi_words = counts[0].words, counts[1].words
    predictable = uni_words != BOS
    p_uni = dict(zip(uni_words.tolist(), (10 ** est.logp[0]).tolist()))
    assert sum(p for w, p in p_uni.items() if w != BOS) == pytest.approx(1.0)
    own = dict(zip(hashing.extend_array(uni_ctx, uni_words).tolist(), 10 ** est.backoff[0]))
    for ctx in set(bi_ctx.tolist()):
        rows = bi_ctx == ctx
        seen = dict(zip(bi_words[rows].tolist(), (10 ** est.logp[1][rows]).tolist()))
        total = sum(seen.get(w, own[ctx] * p_uni[w]) for w in uni_words[predictable].tolist())
        assert total == pytest.approx(1.0)


def test_a_context_with_no_mass_to_back_off_stores_a_finite_floor():
    """Here the trigram discount D2 is exactly 0, so a context whose continuations all have
    count 2 keeps no mass for backing off: log10(0) for lmplz, a finite floor for SQL."""
    from dbslm.ngram.kneser_ney import NO_BACKOFF, estimate, with_unk

    sentences = [["a"], ["b"], ["a", "c", "b"], ["a"]]
    backoffs = estimate(with_unk(count_ngrams(Vocabulary().encode(sentences, grow=True), 3))).backoff
    assert all(np.isfinite(b).all() for b in backoffs)
    assert any((b == NO_BACKOFF).any() for b in backoffs)
