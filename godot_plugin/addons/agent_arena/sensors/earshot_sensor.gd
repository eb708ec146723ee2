@tool
class_name EarshotSensor
extends ArenaSensor
## Earshot: who hears the agent, and what it heard.
##
## The one place that decides whether two characters are within earshot: the agent's
## [code]say[/code] reaches the agents [method agents_in_earshot] lists, the mask's
## [member tool_name] ([code]say[/code]) is [code]false[/code] when [method can_be_heard] is
## not, and a game's own tools (the demo's [code]wave[/code]) ask the same methods.
## Observation: [member key] (default [code]heard[/code]): what was said to the agent since its
## last observation ([member ArenaAgent.heard]), only when something was.

## Characters closer than this hear what the agent says, and it hears them.
@export var hearing_radius: float = 10.0
## Characters are the nodes of this group; the agent's own character joins it in [method setup].
@export var character_group: StringName = &"arena_characters"
## Observation key of what was heard.
@export var key: String = "heard"
## The tool that needs a listener ("": this sensor adds nothing to the mask).
@export var tool_name: String = "say"


func setup(agent: ArenaAgent) -> void:
	var body := agent.get_character()
	if body != null and not String(character_group).is_empty():
		body.add_to_group(character_group)


func sense(agent: ArenaAgent) -> Dictionary:
	return {key: agent.heard.duplicate(true)} if not agent.heard.is_empty() else {}


func mask(agent: ArenaAgent) -> Dictionary:
	if tool_name.is_empty() or can_be_heard(agent):
		return {}
	return {tool_name: false}


## True when [param other] (a character) is within [member hearing_radius] of the agent's.
func in_earshot(agent: ArenaAgent, other: Node3D) -> bool:
	var body := agent.get_character()
	if body == null or other == null or not other.is_inside_tree():
		return false
	return other.global_position.distance_to(body.global_position) <= hearing_radius


## The other characters of [member character_group] within earshot.
func characters_in_earshot(agent: ArenaAgent) -> Array[Node3D]:
	var found: Array[Node3D] = []
	if String(character_group).is_empty() or not is_inside_tree():
		return found
	for node in get_tree().get_nodes_in_group(character_group):
		if node != agent.get_character() and in_earshot(agent, node as Node3D):
			found.append(node as Node3D)
	return found


## The other ArenaAgents whose character is within earshot (they hear the agent's say).
func agents_in_earshot(agent: ArenaAgent) -> Array[ArenaAgent]:
	var found: Array[ArenaAgent] = []
	if not is_inside_tree():
		return found
	for node in get_tree().get_nodes_in_group(ArenaAgent.AGENT_GROUP):
		var other := node as ArenaAgent
		if other != null and other != agent and in_earshot(agent, other.get_character()):
			found.append(other)
	return found


## True when another character is within earshot, or somebody spoke to the agent since its
## last observation.
func can_be_heard(agent: ArenaAgent) -> bool:
	return not agent.heard.is_empty() or not characters_in_earshot(agent).is_empty()
