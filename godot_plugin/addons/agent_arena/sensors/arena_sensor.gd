@tool
class_name ArenaSensor
extends Node
## One piece of what an [ArenaAgent] perceives: a child node of the agent.
##
## Before every observation the agent asks each of its sensor children, in child order, for
## [method sense] (keys merged into the observation) and, for the action mask, [method mask]
## (tools merged into the mask). The addon's sensors: [ItemSensor] (items in sight and in
## reach), [ThreatSensor] (threats in sight), [EarshotSensor] (who hears a [code]say[/code],
## what was heard). Extend this class for your own: override [method sense] and, when what it
## perceives decides what is possible, [method mask].


func _get_configuration_warnings() -> PackedStringArray:
	var warnings := PackedStringArray()
	if not (get_parent() is ArenaAgent):
		warnings.append("A sensor feeds the ArenaAgent it is a child of: put it under one.")
	return warnings


## Called once by [param agent] when it starts (its character is [method
## ArenaAgent.get_character]): join groups, find nodes.
func setup(_agent: ArenaAgent) -> void:
	pass


## What [param agent] perceives through this sensor: keys for its observation (none: [code]{}
## [/code]).
func sense(_agent: ArenaAgent) -> Dictionary:
	return {}


## What this sensor makes possible or impossible now: tool name -> [code]false[/code] or
## [code]{argument: [allowed values]}[/code], as [method ArenaAgent._collect_mask] returns.
func mask(_agent: ArenaAgent) -> Dictionary:
	return {}


## {id, position, distance, kind} of each of [param candidates] (other than [param body])
## within [param radius] of [param body], nearest first; [code]kind[/code] from the node's
## [code]kind[/code] metadata when it has one.
static func perceive(body: Node3D, candidates: Array[Node], radius: float) -> Array:
	var found: Array = []
	if body == null:
		return found
	for node in candidates:
		var thing := node as Node3D
		if thing == null or thing == body or not thing.is_inside_tree():
			continue
		var distance := thing.global_position.distance_to(body.global_position)
		if distance > radius:
			continue
		var entry := {
			"id": str(thing.name),
			"position": round_vec(thing.global_position),
			"distance": snappedf(distance, 0.01),
		}
		if thing.has_meta("kind"):
			entry["kind"] = str(thing.get_meta("kind"))
		found.append(entry)
	found.sort_custom(
		func(a: Dictionary, b: Dictionary) -> bool: return a["distance"] < b["distance"]
	)
	return found


## [param v] as [x, y, z] rounded to centimetres (what observations carry).
static func round_vec(v: Vector3) -> Array:
	return [snappedf(v.x, 0.01), snappedf(v.y, 0.01), snappedf(v.z, 0.01)]
