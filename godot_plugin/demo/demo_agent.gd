## The demo's NPC: an ArenaAgent whose observation uses the words of the server's default
## profile (configs/agents/default.yaml: goal, health, in_reach, visible, heard), so the small
## embedded model recognises the situations its worked examples show, and whose action mask adds
## what the demo knows: walk only to the items it sees and cannot reach yet, wave only at the
## other NPCs within earshot. What it perceives comes from its sensors (main.tscn: an
## ItemSensor and an EarshotSensor under each NPC's ArenaAgent); it only words it the demo's way.
extends "res://addons/agent_arena/arena_agent.gd"


func _collect_observation() -> Dictionary:
	var base := super()
	var items := get_sensor(ItemSensor) as ItemSensor
	var seen: Array = base.get(items.key, []) if items != null else []
	var visible: Array = []
	var in_reach: Array = []
	for item: Dictionary in seen:
		var entry := {
			"id": item["id"],
			"kind": item.get("kind", "thing"),
			"position": item["position"],
			"distance": item["distance"],
		}
		visible.append(entry)
		if float(item["distance"]) <= items.reach_distance:
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


## The sensors' mask (pick_up: the items in reach; say: only with someone in earshot; flee is
## not allowed in the demo), plus move_to: the positions of the visible items out of reach (open
## when there are none, to wander), and wave: the NPCs in earshot.
func _collect_mask(observation: Dictionary) -> Dictionary:
	var mask := super(observation)
	var items := get_sensor(ItemSensor) as ItemSensor
	var targets: Array = []
	for entry: Dictionary in observation.get("visible", []):
		if items != null and float(entry["distance"]) > items.reach_distance:
			targets.append(entry["position"])
	if not targets.is_empty():
		mask["move_to"] = {"target": targets}
	var others: Array = []
	var earshot := get_sensor(EarshotSensor) as EarshotSensor
	if earshot != null:
		for other in earshot.agents_in_earshot(self):
			others.append(other.agent_id)
	mask["wave"] = {"at": others} if not others.is_empty() else false
	return mask
