"""transformers 4.57's pipeline("image-to-text") (transformers 5 has none: it runs in the hf converter environment)
on the PyTorch VisionEncoderDecoder model an ONNX export was made from, greedy.

Request: {"folder", "images": [paths], "max_new_tokens"}.
Answer: {"cases": [{"generated_text": the pipeline's text, "tokens": the new tokens generate() gives (the decoder
start token left out), "margin": the smallest gap between the best and second-best score over the greedy steps}]}.
"""
import json
import sys

import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel, pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
folder = request["folder"]
new = request["max_new_tokens"]
model = VisionEncoderDecoderModel.from_pretrained(folder).eval()
processor = AutoImageProcessor.from_pretrained(folder)
tokenizer = AutoTokenizer.from_pretrained(folder)
pipe = pipeline("image-to-text", model=model, image_processor=processor, tokenizer=tokenizer, device="cpu")
cases = []
for path in request["images"]:
    image = Image.open(path)
    text = pipe(image, max_new_tokens=new)[0]["generated_text"]
    pixels = processor(image.convert("RGB"), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model.generate(pixel_values=pixels, max_new_tokens=new, do_sample=False, num_beams=1,
                             output_scores=True, return_dict_in_generate=True)
    margin = min(float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in out.scores)
    cases.append({"generated_text": text, "tokens": out.sequences[0, 1:].tolist(), "margin": margin})
json.dump({"cases": cases}, sys.stdout)
