@tool
class_name ThreatSensor
extends ArenaSensor
## Threats in sight.
##
## Observation: [member key] (default [code]threats[/code]): [code]{id, position, distance,
## kind}[/code] of each node of [member threat_group] within [member radius], nearest first,
## only when there are any. Mask: [member tool_name] ([code]flee[/code]) may only name them, and
## is [code]false[/code] when there are none.

## Threats are the nodes of this group.
@export var threat_group: StringName = &"arena_threats"
## Only threats closer than this are observed.
@export var radius: float = 15.0
## Observation key of the threats seen.
@export var key: String = "threats"
## The tool that needs a threat ("": this sensor adds nothing to the mask).
@export var tool_name: String = "flee"
## Its argument that names the threat.
@export var argument: String = "threat_id"


func sense(agent: ArenaAgent) -> Dictionary:
	var seen := threats(agent)
	return {key: seen} if not seen.is_empty() else {}


func mask(agent: ArenaAgent) -> Dictionary:
	if tool_name.is_empty():
		return {}
	var ids: Array = []
	for threat: Dictionary in threats(agent):
		ids.append(threat["id"])
	return {tool_name: {argument: ids} if not ids.is_empty() else false}


## The threats within [member radius], nearest first.
func threats(agent: ArenaAgent) -> Array:
	if String(threat_group).is_empty() or not is_inside_tree():
		return []
	return perceive(agent.get_character(), get_tree().get_nodes_in_group(threat_group), radius)
