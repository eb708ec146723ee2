## The demo's NPC: an ArenaAgent whose observation uses the words of the server's default
## profile (configs/agents/default.yaml: goal, health, in_reach, visible), so the small embedded
## model recognises the situations its worked examples show.
extends "res://addons/agent_arena/arena_agent.gd"

## Items closer than this are "in_reach" (the demo's pick_up accepts them).
const REACH: float = 1.6


func _collect_observation() -> Dictionary:
	var base := super()
	var visible: Array = []
	var in_reach: Array = []
	for item: Dictionary in base.get("nearby_items", []):
		var entry := {
			"id": item["id"],
			"kind": item.get("kind", "thing"),
			"position": item["position"],
			"distance": item["distance"],
		}
		visible.append(entry)
		if float(item["distance"]) <= REACH:
			in_reach.append(item["id"])
	var observation := {
		"goal": goal,
		"health": 100,
		"in_reach": in_reach,
		"visible": visible,
		"inventory": base.get("inventory", []),
	}
	if base.has("position"):
		observation["position"] = base["position"]
	return observation
