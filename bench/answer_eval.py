"""Answers students can trust, measured on real services: retrieval hit@1/3/5 of each retriever (Pirá: the
question's own passage among the top k; BNCC and the course samples: the gold answer string inside a top-k source),
the relevance gate's refusals of answerable, off-topic and near-miss questions on three corpora, and the answers of
the extractive answerer and of the bundled local model (token-F1 and containment of Pirá's `answer_pt`, valid `[n]`
citations, numbers absent from the cited passages, time to first token and total time, p50), and the same for the
BNCC and course questions, whose gold answers are short spans of the material.

    .venv/bin/python bench/answer_eval.py [--questions 30] [--no-model]

Indexes and embeddings are kept under data/bench-answers, so a second run embeds nothing. Questions written for
this bench: bench/questions/ (off-topic and near-miss, BNCC and course questions with gold spans).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import time
import unicodedata
from collections import Counter
from pathlib import Path

from common import CORPUS, REPO, StoredEmbeddings, fresh_services, percentile
from retrieval_eval import index_passages, load_questions

DATA_DIR = REPO / "data" / "bench-answers"
QUESTIONS = REPO / "bench" / "questions"
KS = (1, 3, 5)
RRF_K = 60  # the plain hybrid baseline: reciprocal-rank fusion of 4k candidates of each ranker


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def normalized(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def token_f1(answer: str, gold: str) -> float:
    answer_tokens, gold_tokens = normalized(answer).split(), normalized(gold).split()
    common = sum((Counter(answer_tokens) & Counter(gold_tokens)).values())
    if not common:
        return 0.0
    precision, recall = common / len(answer_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def answer_body(answer: str) -> str:
    """What a student reads as the answer: no extractive header, no citation marks."""
    from chains.grounding import CITATION
    from chains.prompts import EXTRACTIVE_HEADER

    return CITATION.sub(" ", answer.removeprefix(EXTRACTIVE_HEADER)).strip()


# Retrievers
def rankings(retriever, question: str, k: int) -> dict[str, list]:
    """The top `k` chunks of each retriever for one question, and the shipped one's evidence."""
    vector = retriever.embeddings.embed_query(question)
    dense = retriever.dense(vector, 4 * k)
    lexical = retriever.lexical.search(question, 4 * k)
    rrf: dict[str, float] = {}
    chunks = {}
    for ranking in (dense, lexical):
        for rank, chunk in enumerate(ranking):
            rrf[chunk.id] = rrf.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank + 1)
            chunks.setdefault(chunk.id, chunk)
    shipped, evidence = retriever.search_with_evidence(question, k)
    return {"BM25 alone (bm25s, pt stemming)": lexical[:k], "dense e5 alone": dense[:k],
            "plain hybrid (BM25 + e5, RRF)": [chunks[id_] for id_ in sorted(rrf, key=rrf.get, reverse=True)[:k]],
            "shipped (standardized-score fusion)": shipped, "evidence": evidence}


def retrieval_table(title: str, retriever, questions: list[dict], hit, gate: float) -> None:
    """hit@k of each retriever; `hit(chunks, item)` says whether chunks answer the question `item`."""
    results = [rankings(retriever, item["question"], max(KS)) for item in questions]
    names = [name for name in results[0] if name != "evidence"]
    print(f"\n{title} ({len(results)} questions)")
    print(f"{'retriever':<44}" + "".join(f"{f'hit@{k}':>8}" for k in KS))
    for name in [*names, "shipped, with the relevance gate"]:
        row = []
        for k in KS:
            found = [hit(result[names[-1]][:k], item) and result["evidence"].relevance >= gate
                     if name.startswith("shipped,") else hit(result[name][:k], item)
                     for result, item in zip(results, questions, strict=True)]
            row.append(sum(found) / len(found))
        print(f"{name:<44}" + "".join(f"{value:8.3f}" for value in row))


def own_passage(chunks, item: dict) -> bool:
    return any(chunk.metadata.get("material_id") == item["material_id"] for chunk in chunks)


def gold_span(chunks, item: dict) -> bool:
    return any(normalized(item["answer"]) in normalized(chunk.text) for chunk in chunks)


# Answers
def answer_metrics(name: str, records: list[dict]) -> None:
    f1 = statistics.fmean(record["f1"] for record in records)
    contained = statistics.fmean(record["contained"] for record in records)
    cited = statistics.fmean(record["cited"] for record in records)
    unsupported = statistics.fmean(record["unsupported"] for record in records)
    first = percentile([record["first"] for record in records], 0.5)
    total = percentile([record["total"] for record in records], 0.5)
    print(f"{name:<34}{len(records):>5}{f1:>7.3f}{contained:>10.3f}{cited:>8.3f}{unsupported:>12.3f}"
          f"{first:>9.2f}{total:>9.2f}")


def evaluate_answer(answer: str, row: dict, passages, started: float, first: float) -> dict:
    from chains.grounding import citations, cited_evidence, unsupported_numbers, valid_citations

    cited = citations(answer)
    valid = bool(cited) and valid_citations(answer, len(passages)) == cited
    evidence = cited_evidence(answer, row["question"], passages) if valid else [row["question"]]
    body = answer_body(answer)
    return {"f1": token_f1(body, row["answer"]), "contained": normalized(row["answer"]) in normalized(body),
            "cited": valid, "unsupported": bool(unsupported_numbers(answer, evidence)),
            "first": first - started, "total": time.perf_counter() - started, "answer": answer}


def extractive_records(services, rows: list[dict], gate: float) -> list[dict]:
    """The extractive answers; each record also keeps `ceiling`, the F1 of the passages' one sentence closest to the
    gold answer: what a perfect choice of one sentence would score (Pirá's answers are free-form, often shorter than
    any sentence)."""
    from chains.answer import extractive_answer
    from chains.prompts import NOT_COVERED
    from knowledge.sentences import split_sentences

    records = []
    for row in rows:
        started = time.perf_counter()
        passages, evidence = services.retriever.search_with_evidence(row["question"], services.settings.retrieval_k)
        answer = extractive_answer(row["question"], passages) if evidence.relevance >= gate else NOT_COVERED
        ceiling = max((token_f1(sentence, row["answer"]) for passage in passages
                       for sentence in split_sentences(passage.text)), default=0.0)
        records.append({**evaluate_answer(answer, row, passages, started, time.perf_counter()), "ceiling": ceiling})
    return records


def ceiling(records: list[dict]) -> float:
    return statistics.fmean(record["ceiling"] for record in records)


def local_model(settings):
    """The bundled model as the server runs it: weights read, instructions evaluated before the first question."""
    from chains.prompts import ANSWER_PREFIX
    from core.llm import make_chat_model, warm_up

    model = make_chat_model(settings.model_copy(update={"llm_provider": "local"}), provider="local")
    warm_up(model, ANSWER_PREFIX)
    return model


def model_records(model, services, rows: list[dict], gate: float, output: Path) -> list[dict]:
    """The local model's answers, each also written to `output` (one JSON line) as soon as it is measured."""
    from chains.answer import answer_messages, focused_passages, grounded_answer
    from chains.prompts import ANSWER_SYSTEM, NOT_COVERED

    records = []
    output.write_text("")
    for row in rows:
        question = row["question"]
        started = time.perf_counter()
        passages, evidence = services.retriever.search_with_evidence(question, services.settings.retrieval_k)
        if evidence.relevance < gate:
            records.append(evaluate_answer(NOT_COVERED, row, passages, started, time.perf_counter()))
            continue
        focused = focused_passages(question, passages)
        first, pieces = None, []
        for chunk in model.stream(answer_messages(ANSWER_SYSTEM, question, focused, [])):
            if chunk.content and first is None:
                first = time.perf_counter()
            pieces.append(str(chunk.content))
        written = "".join(pieces).strip()
        answer = grounded_answer(written, question, focused)
        records.append({**evaluate_answer(answer, row, focused, started, first or time.perf_counter()),
                        "written": written})
        with output.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"question": question, "gold": row["answer"], **records[-1]},
                                  ensure_ascii=False) + "\n")
        print(f"  {records[-1]['total']:5.1f} s {question[:60]!r} → {answer[:100]!r}", flush=True)
    return records


def corpus_services(embeddings, name: str, files: list[Path]):
    """Real services over a copy of `files` under data/bench-answers/<name>, indexed."""
    services = fresh_services(embeddings, DATA_DIR / name)
    services.settings.materials_path.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = services.settings.materials_path / path.name
        if not target.exists():
            shutil.copy(path, target)
    services.ingestor.sync()
    return services


def native_corpora(embeddings) -> list[tuple[str, str, object, list[dict]]]:
    """The native pt-BR corpora with questions written for them (gold: a span of the material): name, title,
    indexed services, questions."""
    course_files = [path for path in sorted((REPO / "examples" / "materials").iterdir()) if path.suffix != ".mp4"]
    return [(name, title, corpus_services(embeddings, name, files),
             read_jsonl(QUESTIONS / f"{name}_questions_pt.jsonl"))
            for title, name, files in [("BNCC Ed. Física (not tuned)", "bncc",
                                        [CORPUS / "bncc-educacao-fisica.pdf"]),
                                       ("course samples", "course", course_files)]]


def gate_line(name: str, services, answerable: list[str], out_of_scope: list[dict], gate: float) -> None:
    def refused(questions: list[str]) -> float:
        return statistics.fmean(services.retriever.search_with_evidence(question, 4)[1].relevance < gate
                                for question in questions)

    off = [item["question"] for item in out_of_scope if item["kind"] == "off_topic"]
    near = [item["question"] for item in out_of_scope if item["kind"] == "near_miss"]
    print(f"{name:<28}{len(answerable):>6}{refused(answerable):>10.3f}{len(off):>6}{refused(off):>10.3f}"
          f"{len(near):>6}{refused(near):>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", "--limit", type=int, default=30,
                        help="Pirá questions the local model answers (the first N)")
    parser.add_argument("--no-model", action="store_true", help="skip the local model")
    parser.add_argument("--answers-only", action="store_true", help="skip the retrieval and gate tables")
    arguments = parser.parse_args()

    from core.embeddings import LocalE5Embeddings

    embeddings = StoredEmbeddings(LocalE5Embeddings(), DATA_DIR / "embeddings.npz")
    rows = load_questions()
    pira = fresh_services(embeddings, DATA_DIR / "pira")
    passage_material = index_passages(pira, rows)
    corpora = native_corpora(embeddings)
    if not arguments.answers_only:
        retrieval_and_gate_tables(pira, rows, passage_material, corpora)
    answer_tables(embeddings, pira, rows, corpora, arguments)


def retrieval_and_gate_tables(pira, rows: list[dict], passage_material: dict[str, str], corpora: list) -> None:
    gate = pira.settings.min_relevance
    print(f"Pirá dev: {len(rows)} questions, {len(passage_material)} passages, {pira.index.count()} chunks; "
          f"MIN_RELEVANCE={gate}")
    retrieval_table("Pirá: the question's own passage in the top k", pira.retriever, [
        {"question": row["question_pt"], "material_id": passage_material[row["passage_pt_machine_translated"]]}
        for row in rows], own_passage, gate)
    for _, title, services, questions in corpora:
        retrieval_table(f"{title}, native pt-BR: gold span inside a top-k source", services.retriever, questions,
                        gold_span, gate)

    out_of_scope = read_jsonl(QUESTIONS / "out_of_scope_pt.jsonl")
    print(f"\nRelevance gate (MIN_RELEVANCE={gate}): share refused")
    print(f"{'corpus':<28}{'answ.':>6}{'refused':>10}{'off':>6}{'refused':>10}{'near':>6}{'refused':>10}")
    gate_line("Pirá dev", pira, [row["question_pt"] for row in rows], out_of_scope, gate)
    for _, title, services, questions in corpora:
        gate_line(title, services, [item["question"] for item in questions], out_of_scope, gate)


def answer_tables(embeddings, pira, pira_rows: list[dict], corpora: list, arguments) -> None:
    gate = pira.settings.min_relevance
    rows = [{"question": row["question_pt"], "answer": row["answer_pt"]} for row in pira_rows]
    header = (f"{'answerer':<34}{'n':>5}{'F1':>7}{'contains':>10}{'cites':>8}{'unsupp. no.':>12}{'TTFT p50':>9}"
              f"{'total p50':>9}")
    print(f"\nAnswers on Pirá (k={pira.settings.retrieval_k}; F1 and containment against answer_pt; seconds)")
    print(header)
    extractive = extractive_records(pira, rows, gate)
    answer_metrics("extractive (sentences), all", extractive)
    answer_metrics(f"extractive (sentences), first {arguments.questions}", extractive[:arguments.questions])
    print(f"(ceiling of a one-sentence answer, the best sentence for each gold answer: F1 "
          f"{ceiling(extractive):.3f} on all, {ceiling(extractive[:arguments.questions]):.3f} "
          f"on the first {arguments.questions})")
    embeddings.save()
    model = None if arguments.no_model else local_model(pira.settings)
    if model:
        output = DATA_DIR / "model-answers.jsonl"
        answer_metrics(f"local {pira.settings.local_llm_model}", model_records(
            model, pira, rows[:arguments.questions], gate, output))
        print(f"(the model's answers: {output})")
    # Native pt-BR questions whose gold is a short span of the material: does the answer hold it?
    for name, title, services, questions in corpora:
        print(f"\nAnswers on {title} (gold: a span of the material)")
        print(header)
        answer_metrics("extractive (sentences)", extractive_records(services, questions, gate))
        if model:
            answer_metrics(f"local {pira.settings.local_llm_model}", model_records(
                model, services, questions, gate, DATA_DIR / f"model-answers-{name}.jsonl"))


if __name__ == "__main__":
    main()
