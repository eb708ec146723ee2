# meta-name: Custom agent
# meta-description: ArenaAgent with extra observation fields, an action mask and a custom tool
# meta-default: true
extends _BASE_

## Register the tool once at start-up, e.g. in your main scene:
## AgentArena.register_tools([{"name": "open_door", "description": "Open a door next to you.",
##     "parameters": {"type": "object", "properties": {"door_id": {"type": "string"}},
##                    "required": ["door_id"], "additionalProperties": false}}])


func _ready() -> void:
	super()
	tool_requested.connect(_on_tool_requested)


## Add what your game knows to the built-in observation (position, items, inventory, goal).
func _collect_observation() -> Dictionary:
	var observation := super()
	observation["health"] = 100
	return observation


## Say what is possible now (docs/godot.md, "Action masks"): the default masks pick_up, flee and
## say from what the agent perceives; add your tools (false: not possible, {argument: [values]}).
func _collect_mask(observation: Dictionary) -> Dictionary:
	var mask := super(observation)
	var doors: Array = []  # e.g. the ids of the doors next to the character
	mask["open_door"] = {"door_id": doors} if not doors.is_empty() else false
	return mask


## Execute tools the agent does not know itself, then report how it went.
func _on_tool_requested(tool_name: String, arguments: Dictionary, _tick: int) -> void:
	match tool_name:
		"open_door":
			complete_tool(true, "opened %s" % arguments.get("door_id", "the door"))
		_:
			complete_tool(false, "this agent cannot %s" % tool_name)
