"""The base of every settings model: unknown keys are errors, values are frozen, an input is never echoed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # a secret may be the input
