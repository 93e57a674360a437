"""The graphs' input and configuration as JSON schemas that LangServe's playgrounds can draw.

The playgrounds' forms know no `null` type: a nullable field leaves the page blank ("Unknown type: null").
Validation is unchanged, `None` is still accepted; only the published schema names the non-null type.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

NULL = {"type": "null"}

# Only some materials (none or empty: all).
MaterialIds = Annotated[list[str] | None,
                        WithJsonSchema({"type": "array", "items": {"type": "string"}, "title": "Material Ids"})]


def without_null_alternatives(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a model whose optional fields mean "the deployment's setting"."""
    for field in schema.get("properties", {}).values():
        alternatives = field.get("anyOf", [])
        if NULL in alternatives and len(alternatives) == 2:
            del field["anyOf"]
            field.update(next(alternative for alternative in alternatives if alternative != NULL))
