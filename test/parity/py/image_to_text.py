"""transformers 4.57's pipeline("image-to-text") (transformers 5 has none: it runs in the hf converter environment)
on the PyTorch VisionEncoderDecoder model an ONNX export was made from, greedy or by beam search.

Request: {"folder", "images": [paths], "max_new_tokens", "num_beams"? (default 1: greedy), "pipeline"? (default true;
false: generate() only, which also runs under transformers 5, whose image processor computes the pixels with
torchvision as modelctl does, where 4.57's slow processor resizes with PIL)}.
Answer: {"cases": [{"generated_text": the pipeline's text, "tokens": the new tokens generate() gives (the decoder
start token left out), "margin": the smallest gap between the best and second-best score over the greedy steps (with
beams: over the first beam's rows), "sequence_score": with beams, the best hypothesis' sequences_scores}]}.
"""
import json
import sys

import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
folder = request["folder"]
new = request["max_new_tokens"]
beams = request.get("num_beams") or 1
model = VisionEncoderDecoderModel.from_pretrained(folder).eval()
processor = AutoImageProcessor.from_pretrained(folder)
tokenizer = AutoTokenizer.from_pretrained(folder)
if request.get("pipeline", True):
    from transformers import pipeline

    pipe = pipeline("image-to-text", model=model, image_processor=processor, tokenizer=tokenizer, device="cpu")
else:
    pipe = None
cases = []
for path in request["images"]:
    image = Image.open(path)
    text = pipe(image, max_new_tokens=new, generate_kwargs={"num_beams": beams})[0]["generated_text"] if pipe else None
    pixels = processor(image.convert("RGB"), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model.generate(pixel_values=pixels, max_new_tokens=new, do_sample=False, num_beams=beams,
                             output_scores=True, return_dict_in_generate=True)
    margin = min(float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in out.scores)
    case = {"generated_text": text, "tokens": out.sequences[0, 1:].tolist(), "margin": margin}
    if beams > 1:
        case["sequence_score"] = float(out.sequences_scores[0])
    cases.append(case)
json.dump({"cases": cases}, sys.stdout)
