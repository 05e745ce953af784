"""Each version's settings model: defaults, camelCase keys, unknown keys refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graphs.streaming_chat import v1_0_0, v1_1_0


def test_defaults_match_the_documented_ones() -> None:
    """streaming-chat defaults to gpt-4o-mini with no system prompt."""
    settings = v1_0_0.Settings()
    assert settings.model == "gpt-4o-mini"
    assert settings.system_prompt is None
    assert v1_1_0.Settings().style == "neutral"


def test_camel_case_keys_are_accepted() -> None:
    """maxTokens and systemPrompt arrive in camelCase, as in the seed."""
    settings = v1_0_0.Settings.model_validate({"maxTokens": 64, "systemPrompt": "Be brief"})
    assert (settings.max_tokens, settings.system_prompt) == (64, "Be brief")


@pytest.mark.parametrize(
    "values",
    [{"style": "pirate"}, {"temperature": 3}, {"maxTokens": 0}, {"model": ""}, {"nope": 1}],
)
def test_invalid_or_unknown_settings_are_refused(values: dict[str, object]) -> None:
    """1.0.0 refuses unknown keys (style is 1.1.0's) and out-of-range values."""
    with pytest.raises(ValidationError):
        v1_0_0.Settings.model_validate(values)


def test_style_shapes_the_system_prompt_with_the_users_own() -> None:
    """1.1.0 joins its persona with the caller's system prompt."""
    settings = v1_1_0.Settings.model_validate({"style": "pirate", "systemPrompt": "Be brief"})
    prompt = v1_1_0.system_prompt(settings)
    assert prompt is not None
    assert "pirate" in prompt
    assert prompt.endswith("Be brief")
    assert v1_1_0.system_prompt(v1_1_0.Settings()) is None
