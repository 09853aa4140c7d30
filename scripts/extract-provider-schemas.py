#!/usr/bin/env python3
"""Regenerates the request schemas the mock provider validates against, from the providers'
own published models shipped in PyPI packages:

- Gemini: `google-api-python-client`'s discovery document. The Gemini API's own document is
  not shipped there; Vertex AI's `aiplatform.v1beta1` describes the same GenerateContent
  request (Vertex adds a few optional fields), so its schema closure is used.
- Bedrock: `botocore`'s bedrock-runtime service model (ConverseRequest, ConverseStreamRequest).
- Cohere: the `cohere` SDK's own pydantic types for v2 chat messages and tools; the top-level
  fields are the ones its `v2/chat` call sends.

Google APIs and AWS both reject unknown fields, so every object schema gets
`additionalProperties: false`. Output: crates/mock-provider/specs/*.schema.json (committed).

Usage: .venv/bin/python scripts/extract-provider-schemas.py
"""
import gzip
import json
import pathlib

import botocore
import googleapiclient

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "mock-provider" / "specs"


def gemini():
    doc_path = (
        pathlib.Path(googleapiclient.__file__).parent
        / "discovery_cache/documents/aiplatform.v1beta1.json"
    )
    schemas = json.loads(doc_path.read_text())["schemas"]
    prefix = "GoogleCloudAiplatformV1beta1"
    root = prefix + "GenerateContentRequest"
    defs, todo = {}, [root]

    def convert(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("description", "id", "enumDescriptions", "enumDeprecated",
                           "readOnly", "deprecated", "annotations"):
                    continue
                if key == "$ref":
                    todo.append(value)
                    out["$ref"] = "#/$defs/" + value
                elif key == "format":
                    continue  # int64 arrives as a string, byte as base64: keep types only
                elif key == "type" and value == "any":
                    continue
                else:
                    out[key] = convert(value)
            if node.get("type") == "string" and node.get("format") in ("int64", "uint64"):
                out["type"] = ["string", "integer"]
            if node.get("type") == "object" and "properties" in node:
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    while todo:
        name = todo.pop()
        if name not in defs:
            defs[name] = None
            defs[name] = convert(schemas[name])
    request = defs.pop(root)
    # Every field name Google accepts in snake_case too; the SDKs send camelCase.
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Gemini GenerateContentRequest (from Vertex AI aiplatform.v1beta1)",
        **request,
        "$defs": defs,
    }


def bedrock():
    data = pathlib.Path(botocore.__file__).parent / "data" / "bedrock-runtime"
    version = sorted(p.name for p in data.iterdir())[-1]
    model = json.loads(gzip.decompress((data / version / "service-2.json.gz").read_bytes()))
    shapes = model["shapes"]
    defs, todo = {}, []

    def ref(name):
        todo.append(name)
        return {"$ref": "#/$defs/" + name}

    def convert(shape):
        kind = shape["type"]
        if shape.get("document"):
            # Any JSON (a tool's input schema, a tool call's input): botocore marks these
            # as structures with `"document": true`.
            return {}
        if kind == "structure":
            members = {
                name: ref(m["shape"])
                for name, m in shape.get("members", {}).items()
                if "location" not in m
            }
            out = {"type": "object", "properties": members, "additionalProperties": False}
            if shape.get("union"):
                out["minProperties"] = 1
                out["maxProperties"] = 1
            required = [r for r in shape.get("required", []) if r in members]
            if required:
                out["required"] = required
            return out
        if kind == "list":
            out = {"type": "array", "items": ref(shape["member"]["shape"])}
            if "min" in shape:
                out["minItems"] = shape["min"]
            return out
        if kind == "map":
            return {"type": "object", "additionalProperties": ref(shape["value"]["shape"])}
        if kind == "string":
            out = {"type": "string"}
            if "enum" in shape:
                out["enum"] = shape["enum"]
            if "min" in shape:
                out["minLength"] = shape["min"]
            return out
        if kind in ("integer", "long"):
            out = {"type": "integer"}
            if "min" in shape:
                out["minimum"] = shape["min"]
            return out
        if kind in ("float", "double"):
            return {"type": "number"}
        if kind == "boolean":
            return {"type": "boolean"}
        if kind == "blob":
            return {"type": "string"}
        if kind == "timestamp":
            return {"type": ["string", "number"]}
        if kind == "document":
            return {}
        raise ValueError(f"unknown shape type {kind}")

    roots = {}
    for operation in ("Converse", "ConverseStream"):
        roots[operation] = ref(model["operations"][operation]["input"]["shape"])
    while todo:
        name = todo.pop()
        if name not in defs:
            defs[name] = None
            defs[name] = convert(shapes[name])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Bedrock Runtime Converse requests (botocore bedrock-runtime {version})",
        "$defs": defs,
        "operations": roots,
    }


def cohere_chat():
    from cohere import types
    from pydantic import TypeAdapter

    def schema_of(tp):
        schema = TypeAdapter(tp).json_schema(by_alias=True, ref_template="#/$defs/{model}")
        return schema.pop("$defs", {}), schema

    defs = {}
    message_defs, message = schema_of(types.ChatMessageV2)
    tool_defs, tool = schema_of(types.ToolV2)
    defs.update(message_defs)
    defs.update(tool_defs)
    number = {"type": "number"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Cohere v2 chat request (cohere SDK types)",
        "type": "object",
        "required": ["model", "messages"],
        "additionalProperties": False,
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "items": message},
            "tools": {"type": "array", "items": tool},
            "strict_tools": {"type": "boolean"},
            "documents": {"type": "array"},
            "citation_options": {"type": "object"},
            "response_format": {"type": "object"},
            "safety_mode": {"enum": ["CONTEXTUAL", "STRICT", "OFF"]},
            "max_tokens": {"type": "integer"},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "temperature": number,
            "seed": {"type": "integer"},
            "frequency_penalty": number,
            "presence_penalty": number,
            "k": number,
            "p": number,
            "logprobs": {"type": "boolean"},
            "tool_choice": {"enum": ["REQUIRED", "NONE"]},
            "thinking": {"type": "object"},
            "priority": {"type": "integer"},
            "stream": {"type": "boolean"},
        },
        "$defs": defs,
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, schema in (("gemini-generate-content-request", gemini()),
                         ("bedrock-converse-request", bedrock()),
                         ("cohere-chat-request", cohere_chat())):
        path = OUT / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
