"""Base for the pydantic model of a function's environment variables.

A function declares its variables once as a subclass and reads them with
``MySettings.from_environ()`` at cold start; logic receives the model and never
reads ``os.environ`` itself. A missing or malformed variable fails the cold start with
a message naming it.
"""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_environ(cls) -> Self:
        return cls.model_validate(
            {
                name: os.environ[name.upper()]
                for name in cls.model_fields
                if name.upper() in os.environ
            }
        )
