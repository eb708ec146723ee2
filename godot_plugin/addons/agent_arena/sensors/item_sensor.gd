@tool
class_name ItemSensor
extends ArenaSensor
## Items in sight and in reach.
##
## Observation: [member key] (default [code]nearby_items[/code]): [code]{id, position, distance,
## kind}[/code] of each item within [member radius], nearest first. Mask: [member tool_name]
## ([code]pick_up[/code]) may only name the items at most [member reach_distance] away, and is
## [code]false[/code] when none is.

## Items are the nodes of this group (or the bodies inside [member perception_area]).
@export var item_group: StringName = &"arena_items"
## Optional area whose overlapping bodies and areas are the perceived items.
@export var perception_area: Area3D
## Only items closer than this are observed.
@export var radius: float = 15.0
## Items at most this far away are in reach.
@export var reach_distance: float = 1.6
## Observation key of the items seen.
@export var key: String = "nearby_items"
## The tool that needs an item in reach ("": this sensor adds nothing to the mask).
@export var tool_name: String = "pick_up"
## Its argument that names the item.
@export var argument: String = "item_id"


func _get_configuration_warnings() -> PackedStringArray:
	var warnings := super()
	if perception_area == null and String(item_group).is_empty():
		warnings.append("Set item_group or perception_area, or the agent observes no items.")
	return warnings


func sense(agent: ArenaAgent) -> Dictionary:
	if agent.get_character() == null:
		return {}
	return {key: items(agent)}


func mask(agent: ArenaAgent) -> Dictionary:
	if tool_name.is_empty():
		return {}
	var ids := in_reach(agent)
	return {tool_name: {argument: ids} if not ids.is_empty() else false}


## The perceived items, nearest first.
func items(agent: ArenaAgent) -> Array:
	var candidates: Array[Node] = []
	if perception_area != null:
		candidates.append_array(perception_area.get_overlapping_bodies())
		candidates.append_array(perception_area.get_overlapping_areas())
	elif not String(item_group).is_empty() and is_inside_tree():
		candidates = get_tree().get_nodes_in_group(item_group)
	return perceive(agent.get_character(), candidates, radius)


## Ids of the perceived items at most [member reach_distance] away, nearest first.
func in_reach(agent: ArenaAgent) -> Array:
	var ids: Array = []
	for item: Dictionary in items(agent):
		if float(item["distance"]) <= reach_distance:
			ids.append(item["id"])
	return ids
