"""Unit tests of the checks of Exercise 5's PyTorch notebook (streams, the language model, one
step of truncated BPTT, bits per character, sampling, the classifier, the trained model).

Fast (no kernels): each test hands a check right answers, which must pass however they are
written (views or reshapes, a one-hot product for the embedding, log-softmax and nll_loss, a
whole text read at once, a sample read again from scratch, a gathered state instead of a packed
batch), and known wrong ones, which must fail with words that name the mistake. The references
are compared with independent code and with the book's ``experiments.language`` package.
"""

from __future__ import annotations

import math
from collections import Counter

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import __main__
from course_checks import CheckFailure, replay
from course_checks.ex5_language import torch_sampling, torch_training
from course_checks.ex5_language.language_torch import (
    BASELINE,
    TRAINING,
    check_batchify,
    check_charlm,
    check_classifier,
    check_evaluate_bpc,
    check_get_chunk,
    check_lm_trained,
    check_lm_training,
    check_sample,
    check_train_step,
)
from course_checks.ex5_language.text import ALPHABET, load_text
from course_checks.ex5_language.torch_models import classifier_batch
from course_checks.ex5_language.torch_references import (
    ReferenceCharLM,
    add_k_log_probs,
    reference_batchify,
    reference_classifier,
    reference_evaluate_bpc,
    reference_get_chunk,
    reference_lm,
    reference_sample,
    reference_train_step,
    stream_positions,
)
from course_checks.ex5_language.torch_sampling import sampling_cases
from course_checks.ex5_language.torch_training import baseline_bits, random_streams
from course_checks.ex5_language.torch_wrong_answers import (
    BATCHIFY_VARIANTS,
    EVALUATE_VARIANTS,
    SAMPLE_VARIANTS,
    STEP_VARIANTS,
    charlm_variants,
    classifier_variants,
)
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails
from tests.support.factory import SOLUTIONS

# ------------------------------------------------------------------- right answers, many forms


def batchify(ids, B, *, order="streams"):
    n = len(ids) // B
    if order == "interleaved":
        return ids[: n * B].reshape(n, B)
    if order == "stack":
        return torch.stack([ids[b * n : (b + 1) * n] for b in range(B)], dim=1)
    return ids.narrow(0, 0, n * B).view(B, -1).t()


def get_chunk(streams, i, bptt, *, shift=1, shorten=True, swap=False):
    L = min(bptt, streams.shape[0] - 1 - i) if shorten else bptt
    x, y = streams.narrow(0, i, min(L, len(streams) - i)), streams[i + shift : i + shift + L]
    return (y, x) if swap else (x, y)


class CharLM(nn.Module):
    """The notebook's model; the keywords each introduce one mistake, ``one_hot`` a right form."""

    def __init__(self, V, embed, hidden, num_layers=1, *, layers_passed=True, **switches):
        super().__init__()
        self.embedding = nn.Embedding(V, embed)
        self.gru = nn.GRU(embed, hidden, num_layers if layers_passed else 1)
        self.head = nn.Linear(hidden, V)
        self.switches = switches

    def forward(self, x, h=None):
        s = self.switches
        if s.get("one_hot") == "product":  # right: a one-hot vector times the embedding matrix
            embedded = (
                F.one_hot(x, self.head.out_features).to(self.head.weight) @ self.embedding.weight
            )
        elif s.get("one_hot") == "indexed":  # wrong: the one-hot vectors looked up as ids
            embedded = self.embedding(F.one_hot(x, self.head.out_features))
        else:
            embedded = self.embedding(x)
        if s.get("stepwise"):  # right: one step at a time, carrying the state
            outputs = []
            for t in range(len(x)):
                out, h = self.gru(embedded[t : t + 1], h)
                outputs.append(out)
            output, h_n = torch.cat(outputs), h
        else:
            output, h_n = self.gru(embedded, None if s.get("ignore_h") else h)
        if s.get("head") == "final":
            return self.head(h_n[-1]), h_n
        logits = self.head(output)
        if s.get("softmax"):
            logits = torch.softmax(logits, dim=-1)
        return logits, (output if s.get("state") == "output" else h_n)


def make_lm(**switches):
    def factory(V, embed, hidden, num_layers=1):
        return CharLM(V, embed, hidden, num_layers, **switches)

    factory.__name__ = factory.__qualname__ = "CharLM"
    return factory


def train_step(model, optimizer, x, y, h, max_norm):
    logits, h = model(x, h)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item(), h.detach()


def make_step(*, form="right", loss="mean", detach="output", clip="after", zero_grad=True,
              returns="float", use_state=True):  # fmt: skip
    """A train_step; ``form`` a right way of writing it, the other keywords mistakes."""

    def step(model, optimizer, x, y, h, max_norm):
        if detach == "input" and h is not None:
            h = h.detach()  # right too: the gradient stops at the chunk's start
        logits, h_n = model(x, h if use_state else None)
        V = logits.shape[-1]
        if form == "nll":
            value = F.nll_loss(torch.log_softmax(logits, -1).view(-1, V), y.flatten())
        elif loss == "transposed":
            value = F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), y.reshape(-1))
        elif loss == "softmax_first":
            value = F.cross_entropy(torch.softmax(logits, -1).reshape(-1, V), y.reshape(-1))
        elif loss == "batch_axis":
            value = F.nll_loss(torch.log_softmax(logits, dim=1).reshape(-1, V), y.reshape(-1))
        elif loss == "whole_logits":  # F.cross_entropy(logits, y): the class axis is dim 1
            value = F.cross_entropy(logits, y)
        else:
            value = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        if zero_grad:
            optimizer.zero_grad()
        if clip == "before":
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        value.backward()
        if clip == "after":
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        loss_out = value.item() if returns == "float" else value.detach()
        return loss_out, h_n.detach() if detach == "output" else h_n

    step.__name__ = step.__qualname__ = "train_step"
    return step


def make_evaluate(*, form="chunks", reduce="total", bits=True, carry=True, mode="eval",
                  restore=True, graph=False):  # fmt: skip
    """An evaluate_bpc; ``form`` a right way of writing it, the other keywords mistakes."""

    def evaluate_bpc(model, streams, bptt):
        was_training = model.training
        if mode == "eval":
            model.eval()
        context = torch.enable_grad() if graph else torch.inference_mode()
        with context:
            if form == "whole":  # right: the streams at once carry the state by themselves
                logits, _ = model(streams[:-1])
                log_p = torch.log_softmax(logits, -1).gather(-1, streams[1:, :, None])
                nats, count = [-float(log_p.sum())], [streams[1:].numel()]
            else:
                nats, count, h = [], [], None
                for i in range(0, len(streams) - 1, bptt):
                    x, y = get_chunk(streams, i, bptt)
                    logits, h = model(x, h if carry else None)
                    V = logits.shape[-1]
                    nats.append(
                        F.cross_entropy(logits.view(-1, V), y.flatten(), reduction="sum").item()
                    )
                    count.append(y.numel())
        if restore:
            model.train(was_training)
        else:
            model.train()
        nats, count = np.array(nats), np.array(count)
        if reduce == "chunk_means":
            mean = float(np.mean(nats / count))
        elif reduce == "exp_mean":
            mean = math.log(float(np.mean(np.exp(nats / count))))
        else:
            mean = nats.sum() / count.sum()
        return float(mean / math.log(2) if bits else mean)

    evaluate_bpc.__name__ = evaluate_bpc.__qualname__ = "evaluate_bpc"
    return evaluate_bpc


def make_sample(*, form="carried", scaling="divide", greedy=True, generator="one",
                state="carried"):  # fmt: skip
    """A sample; ``form`` a right way of writing it, the other keywords mistakes."""

    def sample(model, prompt_ids, length, temperature, seed):
        draws = torch.Generator().manual_seed(seed)
        if form == "global":  # right too: the global generator, seeded, draws the same numbers
            torch.manual_seed(seed)
        read, out = list(prompt_ids), []
        with torch.no_grad():
            if form == "one_by_one":  # right: the prompt read one character at a time
                h = None
                for c in prompt_ids:
                    logits, h = model(torch.tensor([[c]]), h)
            else:
                logits, h = model(torch.tensor(read)[:, None])
            for _ in range(length):
                u = logits[-1, 0]
                if temperature == 0 and greedy:
                    c = int(torch.argmax(u))
                else:
                    if scaling == "after_softmax":
                        p = torch.softmax(u, -1) / temperature
                    elif scaling == "multiply":
                        p = torch.softmax(u * temperature, -1)
                    else:
                        p = torch.softmax(u / temperature, -1)
                    if generator == "per_step":
                        draws = torch.Generator().manual_seed(seed)
                    if form == "global":
                        c = int(torch.multinomial(p, 1))
                    else:
                        c = torch.multinomial(p, 1, generator=draws).item()
                out.append(c)
                read.append(c)
                if form == "from_scratch":  # right but slow: the whole text again, no state
                    logits, h = model(torch.tensor(read)[:, None])
                else:
                    logits, h = model(torch.tensor([[c]]), h if state == "carried" else None)
        return torch.tensor(out) if form == "tensor" else out

    sample.__name__ = sample.__qualname__ = "sample"
    return sample


class SequenceClassifier(nn.Module):
    """The notebook's classifier; ``form`` a right way of writing it, or a mistake."""

    def __init__(self, V, embed, hidden, classes, bidirectional=False, *, form="packed"):
        super().__init__()
        self.embedding = nn.Embedding(V, embed)
        self.gru = nn.GRU(embed, hidden, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)
        self.form = form

    def forward(self, x, lengths):
        embedded, B, H = self.embedding(x), x.shape[1], self.gru.hidden_size
        if self.form in ("packed", "sorted_restored", "sorted_kept"):
            if self.form == "packed":
                order = torch.arange(B)
            else:
                lengths, order = lengths.sort(descending=True)
                embedded = embedded[:, order]
            packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, enforce_sorted=False)
            _, h_n = self.gru(packed)
            logits = self.head(h_n.transpose(0, 1).reshape(B, -1))  # forward, backward per row
            if self.form == "sorted_restored":
                return logits[torch.argsort(order)]
            return logits
        output, h_n = self.gru(embedded)
        last = output[lengths - 1, torch.arange(B)]
        if self.form == "gathered":  # right for one direction, wrong for two
            return self.head(last)
        if self.form == "padded_end":
            return self.head(output[-1])
        if self.form == "padded_h_n":
            return self.head(torch.cat(list(h_n), -1))
        if self.form == "mean":
            return self.head(output.mean(0))
        if self.form == "backward_in_padding":
            return self.head(torch.cat([last[:, :H], output[0, :, H:]], -1))
        raise ValueError(self.form)


def make_classifier(form="packed"):
    def factory(V, embed, hidden, classes, bidirectional=False):
        return SequenceClassifier(V, embed, hidden, classes, bidirectional, form=form)

    factory.__name__ = factory.__qualname__ = "SequenceClassifier"
    return factory


# ---------------------------------------------------------------------------- the references


def test_the_text_is_the_chapters_prose_split_by_topic():
    from experiments.language import corpora

    text, docs = load_text(), corpora.load("python_docs")
    assert text.alphabet == ALPHABET == corpora.ALPHABET
    for split in ("train", "valid", "test"):
        assert text.texts[split] == docs.texts[split]
        assert text.topics[split] == docs.documents[split]
        assert len(text.ids(split)) == len(text.texts[split])
    assert not set(text.topics["train"]) & set(text.topics["valid"] + text.topics["test"])


def test_streams_hold_contiguous_pieces_and_every_target_once():
    ids = torch.arange(103)
    streams = reference_batchify(ids, 7)
    assert torch.equal(streams, batchify(ids, 7)) and torch.equal(
        streams, batchify(ids, 7, order="stack")
    )
    for switches in BATCHIFY_VARIANTS.values():
        assert not torch.equal(reference_batchify(ids, 7, **switches), streams)
    targets = []
    for i in range(0, len(streams) - 1, 4):
        x, y = reference_get_chunk(streams, i, 4)
        assert torch.equal(y[:-1], x[1:]) and x.shape == y.shape
        targets += y.flatten().tolist()
    firsts = set(streams[0].tolist())
    assert sorted(targets) == sorted(set(range(7 * 14)) - firsts), "each once, but the firsts"
    assert sorted(stream_positions(103, 7).tolist()) == sorted(targets)


def test_the_reference_step_is_the_mean_cross_entropy_and_every_mistake_differs():
    sizes = {"V": 7, "embed": 4, "hidden": 5, "B": 3, "bptt": 4, "steps": 3, "n": 13}
    sizes |= {"lr": 0.5, "max_norm": 0.1}
    model = reference_lm(3, 7, 4, 5)
    streams = random_streams(3, 13, 3, 7)
    x, y = reference_get_chunk(streams, 0, 4)
    with torch.no_grad():
        logits, _ = model(x)
        by_hand = -torch.log_softmax(logits, -1).gather(-1, y[..., None]).mean()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss, h = reference_train_step(model, optimizer, x, y, None, 0.1)
    assert abs(loss - float(by_hand)) < 1e-12 and h.grad_fn is None
    norm = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in model.parameters()))
    assert norm <= 0.1 + 1e-9, "clipped"
    right = torch_training._reference_steps(3, sizes)
    for text, switches in STEP_VARIANTS.items():
        wrong = torch_training._reference_steps(3, sizes, **switches)
        moved = any(
            not torch.allclose(wrong["parameters"][-1][name], value, atol=1e-8)
            for name, value in right["parameters"][-1].items()
        )
        assert moved or not np.allclose(wrong["losses"], right["losses"], atol=1e-8), text


def test_clipping_is_active_in_the_tests_of_train_step():
    for seed, V, hidden, B, bptt, max_norm in ((3, 7, 5, 3, 4, 0.1), (11, 10, 4, 4, 3, 0.05)):
        model = reference_lm(seed, V, 4, hidden)
        x, y = reference_get_chunk(random_streams(seed, 3 * bptt + 1, B, V), 0, bptt)
        logits, _ = model(x)
        F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).backward()
        norm = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in model.parameters()))
        assert norm > 3 * max_norm, (seed, norm)


def test_bits_per_character_weigh_every_character_once_and_every_mistake_differs():
    model = reference_lm(5, 9, 4, 6, 2, dropout=0.5)
    streams = random_streams(5, 23, 3, 9)
    expected = reference_evaluate_bpc(model, streams, 5)
    model.eval()
    with torch.no_grad():  # the whole text at once: the state is carried by the GRU itself
        logits, _ = model(streams[:-1])
        nats = F.cross_entropy(logits.reshape(-1, 9), streams[1:].reshape(-1), reduction="sum")
    assert abs(expected - float(nats) / (22 * 3) / math.log(2)) < 1e-12
    for text, switches in EVALUATE_VARIANTS.items():
        assert abs(reference_evaluate_bpc(model, streams, 5, **switches) - expected) > 1e-6, text


def test_a_temperature_close_to_zero_samples_the_argmax_and_every_mistake_shows():
    for seed in range(5):
        model = torch_sampling._model(seed)
        prompt = torch_sampling._prompt(seed, 4)
        greedy = reference_sample(model, prompt, 12, 0.0, seed)
        assert reference_sample(model, prompt, 12, 1e-3, seed + 4) == greedy
        for text, switches in SAMPLE_VARIANTS.items():
            differs = [
                reference_sample(model, prompt, 12, temperature, s, **switches)
                != reference_sample(model, prompt, 12, temperature, s)
                for _, temperature, s in sampling_cases(seed)
            ]
            assert any(differs), (seed, text)


def test_the_reference_classifier_reads_each_sequence_to_its_end():
    for two in (False, True):
        model = reference_classifier(2, 10, 4, 5, 3, two)
        x, lengths = classifier_batch(2, 10, 7, 5)
        assert not torch.equal(lengths, lengths.sort(descending=True).values)
        with torch.no_grad():
            batch = model(x, lengths)
            for b, n in enumerate(lengths.tolist()):
                _, h_n = model.gru(model.embedding(x[:n, b : b + 1]))  # alone: nothing to pack
                assert torch.allclose(batch[b], model.head(torch.cat(list(h_n), -1))[0], atol=1e-12)
        for text, wrong in classifier_variants(model, x, lengths).items():
            assert (wrong - batch).abs().max() > 1e-6, text


def test_charlm_mistakes_differ_from_the_reference():
    model = reference_lm(0, 11, 4, 6)
    x = torch.randint(11, (5, 3))
    h = torch.randn(1, 3, 6, dtype=torch.float64)
    with torch.no_grad():
        right, _ = model(x, h)
    for text, wrong in charlm_variants(model, x, h).items():
        assert (wrong - right).abs().max() > 1e-6, text


def test_add_k_counts_match_a_dictionary_and_the_books_ngram_model():
    from experiments.language.ngram import CharNGram

    rng = np.random.default_rng(0)
    train, text = rng.integers(0, 6, size=400), rng.integers(0, 6, size=120)
    for order, k in ((1, 1.0), (2, 0.5), (3, 0.05)):
        log_p = add_k_log_probs(train, text, order, k, 6)
        grams = Counter(tuple(train[i : i + order]) for i in range(len(train) - order + 1))
        contexts = Counter()
        for gram, count in grams.items():
            contexts[gram[:-1]] += count
        for i in range(order - 1, len(text)):
            gram = tuple(text[i - order + 1 : i + 1])
            expected = (grams[gram] + k) / (contexts[gram[:-1]] + 6 * k)
            assert abs(log_p[i] - math.log(expected)) < 1e-12
        book = CharNGram(train, 6, order, "add_k", k=k).probabilities(text)
        assert np.allclose(np.exp(log_p), book, atol=1e-12)


def test_the_baseline_is_a_trigram_the_small_model_beats_and_the_notebook_states_it():
    valid, test = baseline_bits("valid"), baseline_bits("test")
    assert 2.3 < valid < 3.0 and 2.3 < test < 3.0, (valid, test)
    nb = nbformat.read(SOLUTIONS / "ex5_language" / "language_torch.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    train = cells["train_lm"]
    settings = (TRAINING[k] for k in ("embed", "hidden", "batch", "bptt", "steps", "lr"))
    assert (
        "EMBED, HIDDEN, BATCH, BPTT, STEPS, LR = {}, {}, {}, {}, {}, {}".format(*settings) in train
    )
    assert f"train_step(lm, optimizer, x, y, h, {TRAINING['max_norm']})" in train
    assert BASELINE["order"] == 3 and f"$k = {BASELINE['k']}$" in cells["training_instructions"]


# ------------------------------------------------------------------------ streams and chunks


def test_batchify_accepts_reshape_view_and_stack():
    for form in ("streams", "stack"):
        check_batchify(lambda ids, B, form=form: batchify(ids, B, order=form), 26, 3)
        check_batchify(lambda ids, B, form=form: batchify(ids, B, order=form), 1003, 7, seed=1)
    check_batchify(batchify, 10, 1)


def test_batchify_names_interleaved_streams_and_transposed_ones():
    fails(["interleaved", "reshape to (B, n)"], check_batchify,
          lambda ids, B: batchify(ids, B, order="interleaved"), 26, 3)  # fmt: skip
    fails(["first len(ids) % B characters were dropped"], check_batchify,
          lambda ids, B: reference_batchify(ids, B, order="drop_first"), 26, 3)  # fmt: skip
    fails(["axes are swapped"], check_batchify, lambda ids, B: batchify(ids, B).T, 26, 3)
    fails(["dtype torch.float32"], check_batchify, lambda ids, B: batchify(ids, B).float(), 26, 3)


def test_get_chunk_is_checked_to_the_shorter_last_chunk():
    check_get_chunk(get_chunk, 10, 3, 4)
    check_get_chunk(get_chunk, 37, 5, 8, seed=2)
    check_get_chunk(get_chunk, 8, 2, 10, seed=3)
    fails(["targets are the inputs themselves"], check_get_chunk,
          lambda s, i, bptt: get_chunk(s, i, bptt, shift=0), 10, 3, 4)  # fmt: skip
    fails(["last chunk", "no next character"], check_get_chunk,
          lambda s, i, bptt: get_chunk(s, i, bptt, shorten=False), 10, 3, 4)  # fmt: skip
    fails(["returned (y, x)"], check_get_chunk,
          lambda s, i, bptt: get_chunk(s, i, bptt, swap=True), 10, 3, 4)  # fmt: skip


# ---------------------------------------------------------------------------- CharLM


def test_charlm_accepts_a_one_hot_product_and_a_loop_over_time():
    for switches in ({}, {"one_hot": "product"}, {"stepwise": True}):
        for num_layers in (1, 2):
            assert check_charlm(make_lm(**switches), 1, 9, 3, 5, 4, 2, num_layers=num_layers) < 1e-6
    check_charlm(make_lm(), 2, 5, 2, 4, 1, 1)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"head": "final"}, ["applied to the final state h_n only"]),
        ({"ignore_h": True}, ["initial state h was not passed"]),
        ({"one_hot": "indexed"}, ["one-hot vectors"]),
        ({"softmax": True}, ["went through a softmax"]),
        ({"state": "output"}, ["the GRU's output", "h_n"]),
        ({"layers_passed": False}, ["pass num_layers on to nn.GRU"]),
    ],
)
def test_charlm_mistakes_are_named(switches, words):
    fails(words, check_charlm, make_lm(**switches), 1, 9, 3, 5, 4, 2, num_layers=2)


def test_charlm_with_other_names_is_told_the_names():
    class Renamed(nn.Module):
        def __init__(self, V, embed, hidden, num_layers=1):
            super().__init__()
            self.emb = nn.Embedding(V, embed)
            self.rnn = nn.GRU(embed, hidden, num_layers)
            self.out = nn.Linear(hidden, V, bias=False)

    fails(["Missing: embedding.weight", "head.bias", "Not expected: emb.weight"],
          check_charlm, Renamed, 0, 11, 4, 6, 5, 3)  # fmt: skip


# ---------------------------------------------------------------------------- train_step


@pytest.mark.parametrize(
    "switches", [{}, {"form": "nll"}, {"detach": "input"}], ids=["right", "nll", "detach_input"]
)
def test_train_step_accepts_right_forms(switches):
    check_train_step(make_step(**switches), 3)
    check_train_step(make_step(**switches), 11, steps=4, bptt=3, B=4, V=10, hidden=4, lr=0.3,
                     max_norm=0.05)  # fmt: skip


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"detach": "none"}, ["still attached", "h_n.detach()"]),
        ({"clip": "before"}, ["not clipped", "after loss.backward()"]),
        ({"clip": "none"}, ["not clipped"]),
        ({"zero_grad": False}, ["zero_grad() is missing"]),
        ({"loss": "transposed"}, ["flattened in different orders"]),
        ({"loss": "softmax_first"}, ["softmax is applied before F.cross_entropy"]),
        ({"loss": "batch_axis"}, ["runs over the batch axis (dim=1)"]),
        ({"returns": "tensor"}, ["return a Python float", "loss.item()"]),
        ({"use_state": False}, ["state h given to train_step was not used"]),
        ({"loss": "whole_logits"}, ["train_step raised", "F.cross_entropy takes scores"]),
    ],
)
def test_train_step_mistakes_are_named(switches, words):
    fails(words, check_train_step, make_step(**switches), 3)


# ---------------------------------------------------------------------------- evaluate_bpc


@pytest.mark.parametrize("form", ["chunks", "whole"])
def test_evaluate_bpc_accepts_chunks_or_the_whole_text(form):
    check_evaluate_bpc(make_evaluate(form=form), 5)
    check_evaluate_bpc(make_evaluate(form=form), 8, n=31, B=4, bptt=7, V=12, hidden=5)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"reduce": "chunk_means"}, ["mean of the chunks' mean losses", "shorter"]),
        ({"reduce": "exp_mean"}, ["mean of the chunks' exponentials"]),
        ({"bits": False}, ["in nats", "ln 2"]),
        ({"carry": False}, ["reset at every chunk"]),
        ({"mode": "train"}, ["training mode", "model.eval()"]),
        ({"restore": False}, ["restore the mode it had"]),
        ({"graph": True}, ["torch.no_grad()"]),
    ],
)
def test_evaluate_bpc_mistakes_are_named(switches, words):
    fails(words, check_evaluate_bpc, make_evaluate(**switches), 5)


def test_evaluate_bpc_is_given_the_reference_chunks(monkeypatch):
    """A wrong get_chunk counts against test_get_chunk, not against evaluate_bpc too."""
    evaluate_bpc = make_evaluate()
    wrong = lambda s, i, bptt: get_chunk(s, i, bptt, shift=0)  # noqa: E731
    monkeypatch.setitem(evaluate_bpc.__globals__, "get_chunk", wrong)
    check_evaluate_bpc(evaluate_bpc, 5)
    assert evaluate_bpc.__globals__["get_chunk"] is wrong, "restored after the call"


# ---------------------------------------------------------------------------- sample


@pytest.mark.parametrize("form", ["carried", "one_by_one", "from_scratch", "global", "tensor"])
def test_sample_accepts_right_forms(form):
    check_sample(make_sample(form=form), 7)
    check_sample(make_sample(form=form), 12, prompt=1, length=20)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"scaling": "after_softmax"}, ["applied after the softmax"]),
        ({"scaling": "multiply"}, ["multiplies the logits"]),
        ({"state": "restart"}, ["read from the zero state"]),
        ({"greedy": False}, ["At τ = 0 take the most likely character"]),
        ({"generator": "per_step"}, ["seeded again at every step"]),
    ],
)
def test_sample_mistakes_are_named(switches, words):
    fails(words, check_sample, make_sample(**switches), 7)


def test_a_sample_from_the_global_generator_unseeded_is_not_reproducible():
    def sample(model, prompt_ids, length, temperature, seed):
        with torch.no_grad():
            logits, h = model(torch.tensor(prompt_ids)[:, None])
            out = []
            for _ in range(length):
                u = logits[-1, 0]
                p = (
                    torch.softmax(u / temperature, -1)
                    if temperature
                    else F.one_hot(u.argmax(), len(u)).double()
                )
                out.append(int(torch.multinomial(p, 1)))
                logits, h = model(torch.tensor([[out[-1]]]), h)
        return out

    fails(["is not the reference's sample"], check_sample, sample, 7)


# ---------------------------------------------------------------------------- the classifier


@pytest.mark.parametrize("form", ["packed", "sorted_restored"])
def test_the_classifier_accepts_packing_in_either_order(form):
    for two in (False, True):
        for extra in (1, 4, 17):
            check_classifier(make_classifier(form), 3, 10, 4, 5, 3, 7, 5, extra, bidirectional=two)


def test_a_gathered_final_state_is_right_for_one_direction_only():
    check_classifier(make_classifier("gathered"), 2, 10, 4, 5, 3, 7, 5, 4)
    fails(["backward direction's state was read at step lengths[b] − 1"], check_classifier,
          make_classifier("gathered"), 2, 10, 4, 5, 3, 7, 5, 4, bidirectional=True)  # fmt: skip


@pytest.mark.parametrize(
    ("form", "two", "words"),
    [
        ("padded_end", False, ["padded end", "output[-1]"]),
        ("padded_h_n", False, ["padded end"]),
        ("padded_h_n", True, ["padded end", "h_n of the GRU that read the padded batch"]),
        ("mean", False, ["mean of the outputs over all T steps, padding included"]),
        ("sorted_kept", False, ["order of the sorted lengths"]),
        ("backward_in_padding", True, ["backward direction starts in the padding"]),
    ],
)
def test_classifier_mistakes_are_named(form, two, words):
    fails(words, check_classifier, make_classifier(form), 2, 10, 4, 5, 3, 7, 5, 4,
          bidirectional=two)  # fmt: skip


# ----------------------------------------------------------------------- the trained model


class NGramLM(nn.Module):
    """A 'trained' language model without training: an add-k 4-gram of the training text behind
    CharLM's interface (the state carries each stream's last three characters)."""

    def __init__(self, k=0.03):
        super().__init__()
        train = torch.from_numpy(load_text().ids("train"))
        V = self.V = len(ALPHABET)
        contexts = (train[:-3] * V + train[1:-2]) * V + train[2:-1]
        seen, rows = torch.unique(contexts, return_inverse=True)
        counts = torch.zeros(len(seen) + 1, V, dtype=torch.float64)  # the last row: unseen
        counts.index_put_((rows, train[3:]), torch.ones(len(rows), dtype=torch.float64), True)
        log_p = torch.log((counts + k) / (counts.sum(1, keepdim=True) + k * V))
        self.register_buffer("seen", seen)
        self.register_buffer("log_p", log_p.float())
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x, h=None):
        text = torch.cat([torch.zeros(3, x.shape[1], dtype=torch.long) if h is None else h, x])
        contexts = (text[1:-2] * self.V + text[2:-1]) * self.V + text[3:]  # (T, B): to x[t]
        rows = torch.searchsorted(self.seen, contexts).clamp(max=len(self.seen) - 1)
        rows = torch.where(self.seen[rows] == contexts, rows, len(self.seen))
        return self.log_p[rows] + 0 * self.dummy, text[-3:]


def _recorded(monkeypatch, check, *args, **kwargs):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda record: records.append(record))
    monkeypatch.setattr(replay, "_mode", "record")
    try:
        return check(*args, **kwargs), records
    finally:
        monkeypatch.setattr(replay, "_mode", "normal")


def test_the_trained_model_is_found_by_name_and_judged_again_in_the_replay(monkeypatch):
    monkeypatch.setattr(__main__, "lm", NGramLM(), raising=False)
    monkeypatch.setattr(__main__, "lm_losses", [2.0] * 5, raising=False)
    (bits, baseline), records = _recorded(monkeypatch, check_lm_trained, "lm", "lm_losses", 5)
    assert bits < baseline - 0.3, (bits, baseline)
    monkeypatch.delattr(__main__, "lm")  # the re-check has no model, only the record
    with replay.replaying(records):
        assert check_lm_trained("lm", "lm_losses", 5) == (bits, baseline)


def test_an_untrained_or_unfinished_model_fails_with_the_reason(monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setattr(__main__, "lm", CharLM(len(ALPHABET), 8, 16), raising=False)
    monkeypatch.setattr(__main__, "lm_losses", [4.5] * 5, raising=False)
    fails(["must do better", "add-k trigram"], check_lm_trained, "lm", "lm_losses", 5)
    fails(["did not run to its end"], check_lm_trained, "lm", "lm_losses", 6)
    monkeypatch.setattr(__main__, "lm", CharLM(len(ALPHABET), 8, 16, head="final"), raising=False)
    fails(["logits of shape (T, B, V)", "test of CharLM"], check_lm_trained, "lm", "lm_losses", 5)
    monkeypatch.delattr(__main__, "lm")
    fails(["run the training cell"], check_lm_trained, "lm", "lm_losses", 5)


def test_the_training_is_repeated_with_the_students_functions(monkeypatch):
    monkeypatch.setitem(TRAINING, "steps", 3)
    fails(["must do better"], check_lm_training, make_lm(), batchify, get_chunk, train_step, 1)
    fails(["stopped with an error", "still attached"], check_lm_training, make_lm(),
          batchify, get_chunk, make_step(detach="none"), 1)  # fmt: skip


def test_the_repeated_training_replays_from_its_record(monkeypatch):
    monkeypatch.setitem(TRAINING, "steps", 3)
    records = []
    monkeypatch.setattr(replay, "_emit", lambda record: records.append(record))
    monkeypatch.setattr(replay, "_mode", "record")
    with pytest.raises(CheckFailure) as kernel:
        check_lm_training(make_lm(), batchify, get_chunk, train_step, 1)
    monkeypatch.setattr(replay, "_mode", "normal")
    assert [record["call"] for record in records] == ["_probe_training"]
    stub = replay.Stub("student")
    with replay.replaying(records), pytest.raises(CheckFailure) as replayed:
        check_lm_training(stub, stub, stub, stub, 1)
    assert str(replayed.value) == str(kernel.value)


def test_the_reference_lm_logs_how_it_is_called():
    model = ReferenceCharLM(5, 2, 3).double()
    with torch.no_grad():
        model(torch.zeros(4, 2, dtype=torch.long))
    model(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.float64))
    assert model.log == [
        {"T": 4, "B": 2, "state": False, "training": True, "graph": False},
        {"T": 1, "B": 2, "state": True, "training": True, "graph": True},
    ]
