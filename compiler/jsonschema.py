"""JSON Schema for the spec files, generated from the models (`ferry schema`)."""

from __future__ import annotations

import json

from .models import SPEC_MODELS

SCHEMA_FILES = {kind: f"{kind}.schema.json" for kind in SPEC_MODELS}


def spec_schemas() -> dict[str, str]:
    out = {}
    for kind, model in SPEC_MODELS.items():
        schema = model.model_json_schema()
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://ferry.dev/schema/{SCHEMA_FILES[kind]}",
            **schema,
        }
        out[SCHEMA_FILES[kind]] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out
