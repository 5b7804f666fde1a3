"""Stage configuration read from params.yaml: presets that ``extends`` another."""

from __future__ import annotations

from marcus.errors import UserError


def resolve_preset(stage: str, params: dict, preset_name: str | None = None,
                   overrides: dict | None = None) -> dict:
    """The named preset of a stage's params section (default: its ``preset``), following
    ``extends: OTHER`` links so that a preset lists only what differs from OTHER; then the
    non-None ``overrides`` (command-line flags). ``config["preset"]`` names the preset."""
    presets = params.get("presets", {})
    name = preset_name or params["preset"]
    chain, config = [], {}
    while name is not None:
        if name not in presets:
            raise UserError(f"{stage}: unknown preset {name!r} (have: {', '.join(presets)})")
        if name in chain:
            raise UserError(f"{stage}: presets extend each other in a loop: {chain}")
        chain.append(name)
        name = presets[name].get("extends")
    for link in reversed(chain):
        config.update({k: v for k, v in presets[link].items() if k != "extends"})
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config["preset"] = chain[0]
    return config
