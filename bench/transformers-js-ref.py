"""The reference side of bench/transformers-js.mjs: what a Python user gets for the same model and inputs.

Reads one JSON request on stdin: {"task", "folder" (model.onnx with its config and tokenizer or processor files),
"source" (feature-extraction: the sentence-transformers folder the ONNX file was exported from), "items"}; writes
one JSON list on stdout, one answer per item in the common form of bench/transformers-js-lib.mjs.

- feature-extraction: SentenceTransformer(source).encode(texts) (the model itself, in torch; .venv-parity).
- image-classification: transformers' AutoImageProcessor on the image as its pipeline loads it, onnxruntime on the
  same model.onnx, softmax (.venv-parity: transformers 5, Pillow).
- text-classification, token-classification, question-answering: transformers.pipeline(task) over optimum's
  ORTModel on the same model.onnx (the hf converter environment: transformers 4.57.6, which still has the
  question-answering pipeline).
"""

import json
import sys

import numpy as np


def main() -> None:
    req = json.load(sys.stdin)
    task, folder, items = req["task"], req["folder"], req["items"]
    if task == "feature-extraction":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(req["source"], device="cpu")
        out = [{"embedding": [float(x) for x in v]} for v in model.encode(items, convert_to_numpy=True)]
    elif task == "image-classification":
        import onnxruntime as ort
        from transformers import AutoConfig, AutoImageProcessor
        from transformers.image_utils import load_image

        processor = AutoImageProcessor.from_pretrained(folder)
        id2label = AutoConfig.from_pretrained(folder).id2label
        session = ort.InferenceSession(f"{folder}/model.onnx", providers=["CPUExecutionProvider"])
        out = []
        for path in items:
            pixels = processor(images=load_image(path), return_tensors="np")["pixel_values"].astype(np.float32)
            logits = session.run(None, {session.get_inputs()[0].name: pixels})[0][0].astype(np.float64)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            labels = [{"label": id2label[int(i)], "score": float(p[i])} for i in np.argsort(-p, kind="stable")]
            out.append({"labels": labels})
    else:
        from optimum.onnxruntime import (
            ORTModelForQuestionAnswering,
            ORTModelForSequenceClassification,
            ORTModelForTokenClassification,
        )
        from transformers import AutoTokenizer, pipeline

        cls = {
            "text-classification": ORTModelForSequenceClassification,
            "token-classification": ORTModelForTokenClassification,
            "question-answering": ORTModelForQuestionAnswering,
        }[task]
        model = cls.from_pretrained(folder, file_name="model.onnx")
        pipe = pipeline(task, model=model, tokenizer=AutoTokenizer.from_pretrained(folder))
        out = []
        for item in items:
            if task == "text-classification":
                # Truncated to the tokenizer's limit, as both Node sides do (without it a text over the model's 64
                # positions fails in onnxruntime).
                r = pipe(item, top_k=None, truncation=True)
                out.append({"labels": [{"label": x["label"], "score": float(x["score"])} for x in r]})
            elif task == "token-classification":
                r = pipe(item)
                keys = ("entity", "index", "word", "score", "start", "end")
                out.append({"entities": [{k: (float(e[k]) if k == "score" else e[k]) for k in keys} for e in r]})
            else:
                r = pipe(question=item["question"], context=item["context"])
                out.append({"answer": r["answer"], "score": float(r["score"]), "start": r["start"], "end": r["end"]})
    json.dump(out, sys.stdout)


main()
