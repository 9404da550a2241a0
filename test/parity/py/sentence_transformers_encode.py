"""sentence-transformers' own encode of texts: {"folder", "texts"} -> {"embeddings", "tokens", "max_seq_length"}.

tokens: each text's token count before truncation (special tokens included), so a test can show that its long
texts really are over the model's limit.
"""
import json
import sys

from sentence_transformers import SentenceTransformer

request = json.load(sys.stdin)
model = SentenceTransformer(request["folder"], device="cpu")
texts = request["texts"]
embeddings = model.encode(texts, batch_size=request.get("batch_size", 32), convert_to_numpy=True)
tokenizer = model.tokenizer
print(json.dumps({
    "embeddings": [[float(x) for x in row] for row in embeddings],
    "tokens": [len(tokenizer(t, truncation=False)["input_ids"]) for t in texts],
    "max_seq_length": model.max_seq_length,
}))
