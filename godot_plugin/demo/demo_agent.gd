## The demo's NPC: an ArenaAgent whose observation uses the words of the server's default
## profile (configs/agents/default.yaml: goal, health, in_reach, visible, heard), so the small
## embedded model recognises the situations its worked examples show, and whose action mask adds
## what the demo knows: walk only to the items it sees and cannot reach yet, wave only at the
## other NPCs within earshot.
extends "res://addons/agent_arena/arena_agent.gd"


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
		if float(item["distance"]) <= reach_distance:
			in_reach.append(item["id"])
	var observation := {
		"goal": goal,
		"health": 100,
		"in_reach": in_reach,
		"visible": visible,
		"inventory": base.get("inventory", []),
	}
	if base.has("heard"):
		observation["heard"] = base["heard"]
	if base.has("position"):
		observation["position"] = base["position"]
	return observation


## The addon's mask (pick_up: the items in reach; say: only with someone in earshot; flee is not
## allowed in the demo), plus move_to: the positions of the visible items out of reach (open
## when there are none, to wander), and wave: the NPCs in earshot.
func _collect_mask(observation: Dictionary) -> Dictionary:
	var mask := super(observation)
	var targets: Array = []
	for entry: Dictionary in observation.get("visible", []):
		if float(entry["distance"]) > reach_distance:
			targets.append(entry["position"])
	if not targets.is_empty():
		mask["move_to"] = {"target": targets}
	var others := _agents_in_earshot()
	mask["wave"] = {"at": others} if not others.is_empty() else false
	return mask


## Ids of the other NPCs whose character is within hearing_radius.
func _agents_in_earshot() -> Array:
	var ids: Array = []
	var body := get_parent() as Node3D
	if body == null or not is_inside_tree():
		return ids
	for node in get_tree().get_nodes_in_group(AGENT_GROUP):
		var other := node as ArenaAgent
		var other_body := other.get_parent() as Node3D if other != null else null
		if other == self or other_body == null:
			continue
		if other_body.global_position.distance_to(body.global_position) <= hearing_radius:
			ids.append(other.agent_id)
	return ids
