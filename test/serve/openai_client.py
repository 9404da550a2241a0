"""The official OpenAI Python client against `modelctl serve` (test/serve/openai.test.ts).

Usage: openai_client.py BASE_URL MODEL CASE_JSON
CASE_JSON: {"messages": [...], "prompt": "...", "max_tokens": N, "stop": [...]}. Prints one JSON document: the model
list, a chat completion streamed (with usage in the last chunk) and the same one whole, a plain completion streamed and
whole, and the errors the client raises for n=2 and an unknown model.
"""
import json
import sys

import openai
from openai import OpenAI


def streamed(chunks, chat):
    pieces, finish, usage, ids, objects, roles = [], None, None, set(), set(), []
    for chunk in chunks:
        ids.add(chunk.id)
        objects.add(chunk.object)
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if chat:
                if choice.delta.role:
                    roles.append(choice.delta.role)
                if choice.delta.content:
                    pieces.append(choice.delta.content)
            elif choice.text:
                pieces.append(choice.text)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    return {"pieces": pieces, "text": "".join(pieces), "finish_reason": finish, "usage": usage,
            "ids": sorted(ids), "objects": sorted(objects), "roles": roles}


def error_of(call):
    try:
        call()
    except openai.APIStatusError as e:
        return {"status": e.status_code, "class": type(e).__name__, "body": e.body}
    return None


def main():
    base, model, case = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
    out = {"models": [m.model_dump() for m in client.models.list()]}
    settings = {"model": model, "max_tokens": case["max_tokens"], "temperature": 0}
    if case.get("stop"):
        settings["stop"] = case["stop"]
    if "messages" in case:
        stream = client.chat.completions.create(messages=case["messages"], stream=True,
                                                stream_options={"include_usage": True}, **settings)
        out["chat_stream"] = streamed(stream, True)
        whole = client.chat.completions.create(messages=case["messages"], **settings)
        out["chat"] = {"id": whole.id, "object": whole.object, "created": whole.created, "model": whole.model,
                       "content": whole.choices[0].message.content, "role": whole.choices[0].message.role,
                       "finish_reason": whole.choices[0].finish_reason, "usage": whole.usage.model_dump()}
        out["n2"] = error_of(lambda: client.chat.completions.create(messages=case["messages"], n=2, **settings))
    if "prompt" in case:
        stream = client.completions.create(prompt=case["prompt"], stream=True,
                                           stream_options={"include_usage": True}, **settings)
        out["completion_stream"] = streamed(stream, False)
        whole = client.completions.create(prompt=case["prompt"], **settings)
        out["completion"] = {"id": whole.id, "object": whole.object, "text": whole.choices[0].text,
                             "finish_reason": whole.choices[0].finish_reason, "usage": whole.usage.model_dump()}
    out["missing"] = error_of(lambda: client.completions.create(model="no-such-model", prompt="x", max_tokens=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
