"""The real Jupyter Book build, with warnings as errors, and what a reader gets from it."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.conftest import REPO, grader_env

pytestmark = pytest.mark.slow

HTML = REPO / "_build" / "html"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def build_book(env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Build with `make book`, as a reader does: the experiments' training step, then Jupyter Book
    (the result cache and the execution cache make an unchanged rebuild quick)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "book"],
        cwd=REPO,
        env=env or grader_env(),
        capture_output=True,
        text=True,
        timeout=3600,  # a hang guard, not a budget: the cold build takes 25-35 min on 2 busy cores
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def built():
    return build_book()


def test_every_page_is_built(built):
    for page in toc_pages():
        assert (HTML / f"{page}.html").is_file(), page


def test_no_page_shows_an_error_or_raw_math(built):
    for page in toc_pages():
        text = (HTML / f"{page}.html").read_text()
        assert "Traceback" not in text and "output_error" not in text, page
        assert not re.search(r"np\.(float|int)\d+\(", text), f"{page} shows a raw NumPy scalar repr"
        assert "\\begin{" not in re.sub(
            r'<div class="math[^"]*"[^>]*>.*?</div>', "", text, flags=re.S
        )


CHAPTERS = [p for p in toc_pages() if re.match(r"book/\d\d_", p)]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_computed_figures_math_and_citations(built, chapter):
    page = HTML / f"{chapter}.html"
    text = page.read_text()
    images = re.findall(r"<img [^>]*>", text)
    assert images, f"{chapter} shows no figure"
    for tag in images:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert not src.startswith("http"), f"remote image {src}"
        if src.startswith("data:image/png;base64,"):  # embedded with its audio (Chapter 7's scores)
            assert len(base64.b64decode(src.split(",", 1)[1])) > 5000, src[:80]
        else:
            image = (page.parent / src).resolve()
            assert image.is_file() and image.stat().st_size > 5000, src
        assert re.search(r'alt="[^"]{10,}"', tag), f"image without alt text: {tag[:120]}"
    assert 'class="math' in text, "no typeset math"
    assert "bibliography.html#" in text, "no resolved citation"


def test_every_exercise_is_offered_as_a_download_of_the_released_notebook(built):
    released = {p.name: p for p in (REPO / "exercises").rglob("*.ipynb")}
    offered = set()
    for page in toc_pages():
        html_page = HTML / f"{page}.html"
        for href in re.findall(r'href="([^"]*_downloads/[^"]+\.ipynb)"', html_page.read_text()):
            served = (html_page.parent / href).resolve()
            nbformat.validate(nbformat.read(served, as_version=4))
            assert served.name in released, f"{page} offers {served.name}, not a released notebook"
            assert json.loads(served.read_text()) == json.loads(
                released[served.name].read_text()
            ), f"{page} serves a stale {served.name}"
            offered.add(served.name)
    assert offered == set(released), f"exercises no chapter offers: {set(released) - offered}"


def test_bibliography_lists_the_cited_papers(built):
    text = (HTML / "book" / "bibliography.html").read_text()
    for author in ("Bengio", "Pascanu", "Hochreiter"):
        assert author in text


def test_no_glued_number_is_nan_or_infinite(built):
    """A computed number that came out undefined must not reach the text (a missing glue key
    already fails the build)."""
    for page in toc_pages():
        pasted = re.findall(
            r'<span class="pasted-text">([^<]*)</span>', (HTML / f"{page}.html").read_text()
        )
        bad = [text for text in pasted if re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)]
        assert not bad, f"{page} shows {bad}"


def test_chapter_4_trains_every_run_of_its_protocol_and_states_verdicts(built):
    from experiments import runner

    assert "experiments: " in built.stderr and "results ready" in built.stderr, built.stderr[-2000:]
    assert runner.load_protocol(), "the training step left runs of the protocol untrained"
    text = (HTML / "book" / "04_gru_vs_lstm.html").read_text()
    for words in ("GRU ahead in", "Chung et al. 2014", "Weiss et al. 2018", "forget-gate bias"):
        assert words in text, words
    verdicts = re.findall(r'<strong><span class="pasted-text">([^<]+)</span></strong>', text)
    assert len(verdicts) >= 7 and all(
        v.startswith(("supported", "mostly", "partly", "weakly", "not ", "neither"))
        for v in verdicts
    ), verdicts


def test_chapter_5_states_the_measurements_of_its_protocol(built):
    """The language chapter reads every run of its own protocol and prints what they measured:
    the GRU's and the best n-gram's test bits per character on each corpus, the classification
    against its linear baseline."""
    from experiments import runner
    from experiments.language import protocol

    results = runner.load_protocol("language")
    text = (HTML / "book" / "05_gru_language.html").read_text()
    for group in ("main", "ngram"):
        for result in protocol.of_group(results, group):
            score = result["test_bpc"] if group == "main" else result["best"]["test_bpc"]
            assert f"{score:.2f}" in text, (group, result["spec"]["corpus"], score)
    tfidf = next(
        r for r in protocol.of_group(results, "classification") if r["spec"]["model"] == "tfidf"
    )
    assert f"{tfidf['test_accuracy']:.1%}" in text
    for words in ("Kneser–Ney", "pack_padded_sequence", "return_sequences", "variational"):
        assert words in text, words
    assert re.search(r"(The linear baseline wins|The GRU wins)", text)


def test_chapter_6_states_the_measurements_of_its_protocol(built):
    """The encoder-decoder chapter reads every run of its own protocol and prints what they
    measured: BLEU of the model (greedy and beam) and of the dictionary baseline, and exact-match
    accuracy by number of dates with and without attention."""
    from experiments import runner
    from experiments.seq2seq import protocol

    results = runner.load_protocol("seq2seq")
    text = (HTML / "book" / "06_encoder_decoder.html").read_text()
    translations = {r["spec"]["label"]: r for r in protocol.of_group(results, "translation")}
    for score in (translations["attention"]["bleu"], translations["attention"]["beam_bleu"],
                  translations["dictionary"]["bleu"]):  # fmt: skip
        assert f"{100 * score:.1f}" in text, score
    for name in protocol.DATE_RUNS:
        runs = [r for r in protocol.of_group(results, "dates") if r["spec"]["label"] == name]
        assert len(runs) == len(protocol.DATE_SEEDS), name
        one = sum(
            ok for r in runs for ok, n in zip(r["greedy"], r["dates"], strict=False) if n == 1
        )
        total = sum(n == 1 for r in runs for n in r["dates"])
        assert f"{one / total:.0%}" in text, (name, one / total)
    for words in ("Bahdanau", "teacher forcing", "length normalisation", "trans-de-en", "CLDR"):
        assert words in text, words
    assert re.search(r"attention (wins|does not win) at every number of dates", text)


def test_chapter_7_states_the_measurements_of_its_protocol(built):
    """The signals chapter reads every run of its own protocol and prints what they measured: digit
    accuracy on unseen voices per seed against both baselines, CTC's digit error rate, the real
    speakers' accuracy, the chorale NLLs of every model beside Chung et al.'s row, the chosen
    forecasting baselines, the anomaly scores' average precision; its sound and scores are in the
    page itself."""
    from experiments import runner
    from experiments.signals import protocol
    from experiments.signals.music_models import CHUNG_JSB

    results = runner.load_protocol("signals")
    text = (HTML / "book" / "07_signals.html").read_text()
    for group in ("digits", "vowels"):
        runs = protocol.of_group(results, group)
        assert len(runs) == len(protocol.SPEECH_SEEDS) + 2, group
        for run in runs:
            assert f"{run['test_accuracy']:.1%}" in text, (group, run["spec"])
    (ctc,) = protocol.of_group(results, "strings")
    assert f"{ctc['test_der']:.1%}" in text and f"{ctc['test_string_accuracy']:.1%}" in text
    music = protocol.of_group(results, "music")
    for model in ("rnn", "gru", "lstm", "frequencies", "logistic"):
        nlls = [r["test_nll"] for r in music if r["spec"]["model"] == model]
        assert f"{sum(nlls) / len(nlls):.2f}" in text, (model, nlls)
    for train_nll, test_nll in CHUNG_JSB.values():
        assert f"{train_nll:.2f}" in text and f"{test_nll:.2f}" in text
    for run in protocol.of_group(results, "forecast baselines"):
        for method in ("AutoReg", "ETS"):
            assert run["methods"][method]["chosen"] in text, (run["series"], method)
    for words in ("eSpeak NG", "torch.stft", "CTCLoss", "Riemenschneider", "MASE", "Nile",
                  "pinball", "average precision", "unseen"):  # fmt: skip
        assert words in text, words
    assert re.search(r"(beats both baselines|does not beat the better baseline)", text)
    assert text.count("data:audio/wav;base64,") >= 4, "the speech players are not in the page"
    assert text.count("data:audio/ogg;base64,") >= 2, "the chorales' audio is not in the page"


def _source(chapter: str) -> str:
    return (REPO / f"{chapter}.md").read_text()


def test_chapter_4_is_re_executed_when_a_module_it_imports_changes(built):
    """No stale page: Jupyter Book's cache only sees the chapter's own code, so a change to a
    module it imports must trigger a re-read and a re-execution (booktools/sphinx_dependencies.py
    and the chapter's `execution_mode: force`); an unchanged rebuild executes nothing."""
    executing = "{}: Executing notebook"
    others = [c for c in CHAPTERS if c != "book/04_gru_vs_lstm" and "experiments" in _source(c)]
    assert "Executing notebook" not in build_book().stdout
    # A module of Chapter 4 alone (booktools/sphinx_dependencies.py follows each page's imports):
    # the chapter runs again, and the chapters that do not import it do not.
    os.utime(REPO / "experiments" / "summary.py")  # as if it had just been edited
    output = build_book().stdout
    assert executing.format("04_gru_vs_lstm.md") in output
    assert others, "no other chapter imports experiments"
    for chapter in others:
        assert executing.format(Path(chapter).name + ".md") not in output, chapter


def test_chapter_4_without_its_training_step_fails_with_the_command_to_run(built, tmp_path):
    """Jupyter Book alone never trains: with no cached results, the chapter stops with a message
    that names the training step (the real build, with an empty result cache)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    chapter = REPO / "book" / "04_gru_vs_lstm.md"
    os.utime(chapter)  # make Sphinx read the chapter again, so that it executes
    try:
        done = subprocess.run(
            [str(jupyter_book), "build", ".", "--warningiserror", "--keep-going"],
            cwd=REPO,
            env={**grader_env(), "GRU_EXPERIMENT_CACHE": str(tmp_path / "empty")},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode != 0
        output = done.stdout + done.stderr
        assert "MissingResults" in output and "python -m experiments" in output, output[-3000:]
    finally:
        os.utime(chapter)
        build_book()  # leave the built book complete for the tests after this one


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_numbers_its_equations_and_refers_to_them(built, chapter):
    """Numbered display equations, cross-references that name them ("Eq. (n)"), and terms linked to
    the glossary; the browser suite checks that every such link lands on its anchor."""
    text = (HTML / f"{chapter}.html").read_text()
    numbers = re.findall(r'<span class="eqno">\((\d+\.\d+|\d+)\)', text)
    assert len(numbers) >= 3, f"{chapter}: {len(numbers)} numbered equations"
    references = re.findall(r'href="[^"]*#equation-[^"]+"', text)
    assert references, f"{chapter} never refers to a numbered equation"
    assert re.search(r'href="glossary\.html#term-', text), f"{chapter} links no glossary term"
