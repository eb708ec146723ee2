"""Write the action mask each scenario's game would send into its ``observe:`` field.

A mask is what the game knows is possible now (docs/protocol.md, "Action masks"); each file's
game knows it from its own state, read here from the observation it sends:

- pick_up / grab: the ids in reach (in_reach, reachable, senses.touch, within_arms_length);
- flee / run_from: the threats' ids (threats, enemies, senses.danger; the farm's danger text);
- say / reply: possible only when someone spoke (heard, chat, senses.hearing, someone_said);
- move_to / walk: the positions of the things in sight that are not already in reach
  (visible, nearby, senses.sight; the farm's "at [x, y]" text); nothing to walk to: walking is
  not offered;
- idle / rest: always.

The masks are derived by these rules only, never from a scenario's expected answer. Run it
again after editing a scenario file (it replaces the ``observe:`` lines it wrote before):

    .venv/bin/python bench/scenario_masks.py bench/scenarios/*.yaml
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT = {"reach": "pick_up", "threat": "flee", "talk": "say", "walk": "move_to",
           "arg": {"pick_up": "item_id", "flee": "threat_id", "move_to": "target"}}
FARM = {"reach": "grab", "threat": "run_from", "talk": "reply", "walk": "walk",
        "arg": {"grab": "thing", "run_from": "danger", "walk": "spot"}}


def _xyz(p: Any) -> list[float]:
    return [p["x"], p["y"], p["z"]] if isinstance(p, dict) else list(p)


def known(obs: dict[str, Any]) -> tuple[list[str], list[str], bool, list[list[float]]]:
    """(ids in reach, threat ids, someone spoke, positions in sight) of one observation."""
    senses = obs.get("senses") or {}
    reach = obs.get("in_reach") or obs.get("reachable") or senses.get("touch") \
        or obs.get("within_arms_length") or []
    threats = [t.get("id") or t.get("name") or t.get("entity")
               for t in obs.get("threats") or obs.get("enemies") or senses.get("danger") or []]
    danger = obs.get("danger")
    if isinstance(danger, str):  # the farm's prose: "angry bull B7 charging, 2 m away"
        threats += re.findall(r"\b[A-Z]\d+\b", danger)
    spoke = bool(obs.get("heard") or obs.get("chat") or senses.get("hearing")
                 or obs.get("someone_said"))
    sight = [_xyz(x.get("position") or x.get("at") or x.get("pos"))
             for x in obs.get("visible") or obs.get("nearby") or senses.get("sight") or []
             if (x.get("id") or x.get("name") or x.get("entity")) not in reach]
    around = obs.get("around")
    if isinstance(around, str):  # "eggs E1 in the hen house at [14, 3], 14 m away"
        sight += [json.loads(m) for m in re.findall(r"\[[-\d., ]+\]", around)]
        if not re.search(r"\bat \[", around):
            sight = []  # "right in front of you": nothing to walk to
    return list(reach), threats, spoke, sight


def mask_for(obs: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    reach, threats, spoke, sight = known(obs)
    arg = names["arg"]
    return {
        names["walk"]: {arg[names["walk"]]: sight} if sight else False,
        names["reach"]: {arg[names["reach"]]: reach} if reach else False,
        names["threat"]: {arg[names["threat"]]: threats} if threats else False,
        names["talk"]: spoke,
    }


def rewrite(path: Path) -> int:
    data = yaml.safe_load(path.read_text())
    names = FARM if data.get("tools") else DEFAULT
    masks = {sc["id"]: mask_for(sc["observation"], names) for sc in data["scenarios"]}
    out, skip = [], False
    for line in path.read_text().splitlines():
        if skip and line.startswith("    "):
            continue  # the old observe block
        skip = False
        if line == "  observe:":
            skip = True
            continue
        out.append(line)
        m = re.match(r"^- id: (\S+)$", line)
        if m:
            mask = json.dumps(masks[m.group(1)])
            out += ["  observe:", f"    mask: {mask}"]
    path.write_text("\n".join(out) + "\n")
    check = yaml.safe_load(path.read_text())
    assert [s["observe"]["mask"] for s in check["scenarios"]] == list(masks.values())
    return len(masks)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(p, rewrite(Path(p)), "masks")
