@tool
class_name ArenaAgent
extends Node
## Drives one character from the Agent Arena server.
##
## Add it as a child of the character (a [Node3D], ideally a [CharacterBody3D]). Every
## [member decision_interval] seconds it sends an observation through the [code]AgentArena[/code]
## autoload and executes the action that comes back: [code]move_to[/code] (through a
## [NavigationAgent3D] child of the character when there is one, else by steering straight),
## [code]say[/code] (a [Label3D] bubble), [code]idle[/code]. Any other tool is handed to the game
## through [signal tool_requested]; finish it with [method complete_tool].
## Override [method _collect_observation] to describe the world your way.

## A tool the agent does not execute itself; call [method complete_tool] when it is done.
signal tool_requested(tool_name: String, arguments: Dictionary, tick: int)
## An action (built-in or custom) finished and its result was reported to the server.
signal action_finished(tool_name: String, ok: bool, result: Variant)

const Client := preload("res://addons/agent_arena/client.gd")
const BUILTIN_TOOLS: PackedStringArray = ["move_to", "say", "idle"]
const AUTOLOAD_PATH: NodePath = ^"/root/AgentArena"

## Unique id of this agent on the server (defaults to the character's name).
@export var agent_id: String = ""
## Seconds between two observations while no action is running.
@export_range(0.05, 60.0, 0.05, "or_greater", "suffix:s") var decision_interval: float = 1.0
## Server-side agent profile (system prompt, tools, sampling); empty for the server's default.
@export var profile: String = ""
## What the agent is trying to do; sent with every observation.
@export_multiline var goal: String = ""
## Items the character carries; sent with every observation.
@export var inventory: Array[String] = []
## Tool names allowed for this agent's decisions (empty: every registered tool).
@export var allowed_tools: PackedStringArray = PackedStringArray()
## Time budget of one decision; the server answers with its fallback action when it passes.
@export_range(0, 600000, 100, "suffix:ms") var deadline_ms: int = 0
## Start deciding as soon as the agent is in the tree.
@export var autostart: bool = true

@export_group("Perception")
## Items are the nodes of this group (or the bodies inside [member perception_area]).
@export var item_group: StringName = &"arena_items"
## Only items closer than this are observed.
@export var perception_radius: float = 15.0
## Optional area whose overlapping bodies and areas are the perceived items.
@export var perception_area: Area3D

@export_group("Movement")
## Speed of built-in steering (when there is no NavigationAgent3D).
@export var move_speed: float = 3.0
## A move_to ends when the character is this close to its target.
@export var arrive_distance: float = 0.4
## A move_to that has not arrived after this many seconds ends with ok = false.
@export var move_timeout: float = 20.0
## Seconds a say bubble stays visible.
@export var say_duration: float = 4.0

var tick: int = 0
## The tool being executed ("" when none).
var current_tool: String = ""
var last_call: Dictionary = {}

var _client: Client = null
var _body: Node3D = null
var _nav: NavigationAgent3D = null
var _bubble: Label3D = null
var _bubble_left: float = 0.0
var _since_decision: float = 0.0
var _waiting: bool = false
var _action_tick: int = 0
var _move_target: Vector3 = Vector3.ZERO
var _move_elapsed: float = 0.0
var _running: bool = false


func _ready() -> void:
	if Engine.is_editor_hint():
		return
	if agent_id.is_empty():
		agent_id = str(get_parent().name) if get_parent() != null else str(name)
	_body = get_parent() as Node3D
	if _body != null:
		for child in _body.get_children():
			if child is NavigationAgent3D:
				_nav = child
	_client = get_node_or_null(AUTOLOAD_PATH) as Client
	if _client == null:
		push_warning(
			"ArenaAgent %s: no AgentArena autoload; enable the Agent Arena plugin" % agent_id
		)
		return
	_client.action_received.connect(_on_action_received)
	# A decision in flight when the connection drops never comes back: ask again afterwards.
	_client.disconnected.connect(func(_reason: String) -> void: _waiting = false)
	# An observation that never reached the server (failed write, dropped from the full queue,
	# connection refused) will not be answered either.
	_client.request_failed.connect(_on_request_failed)
	_running = autostart
	_since_decision = decision_interval  # decide on the first frame


func _process(delta: float) -> void:
	if Engine.is_editor_hint():
		return
	if _bubble != null and _bubble_left > 0.0:
		_bubble_left -= delta
		_bubble.visible = _bubble_left > 0.0
	if _waiting:
		_since_decision += delta
		if _since_decision > _stall_limit():
			_waiting = false  # the reply was lost (e.g. the server restarted): ask again
		return
	if not _running or not current_tool.is_empty():
		return
	_since_decision += delta
	if _since_decision >= decision_interval:
		request_decision()


func _physics_process(delta: float) -> void:
	if Engine.is_editor_hint() or current_tool != "move_to" or _body == null:
		return
	_move_elapsed += delta
	var to_target := _move_target - _body.global_position
	to_target.y = 0.0
	if to_target.length() <= arrive_distance:
		_finish_builtin(true, {"position": _body.global_position, "arrived": true})
		return
	if _move_elapsed > move_timeout:
		_stop_body()
		var result := {"position": _body.global_position, "arrived": false, "reason": "timeout"}
		_finish_builtin(false, result)
		return
	var next := _move_target
	if _nav != null and not _nav.is_navigation_finished():
		next = _nav.get_next_path_position()  # falls back to a straight line without a navmesh
	var direction := next - _body.global_position
	direction.y = 0.0
	var velocity := direction.normalized() * move_speed
	if _body is CharacterBody3D:
		var character := _body as CharacterBody3D
		character.velocity = Vector3(velocity.x, character.velocity.y, velocity.z)
		character.move_and_slide()
	else:
		var step := minf(move_speed * delta, direction.length())
		_body.global_position += direction.normalized() * step


func _get_configuration_warnings() -> PackedStringArray:
	var warnings := PackedStringArray()
	if not (get_parent() is Node3D):
		warnings.append("ArenaAgent moves its parent: make it a child of a Node3D character.")
	if decision_interval <= 0.0:
		warnings.append("decision_interval must be positive.")
	if not ProjectSettings.has_setting("autoload/AgentArena"):
		warnings.append("The AgentArena autoload is missing: enable the Agent Arena plugin.")
	if perception_area == null and String(item_group).is_empty():
		warnings.append("Set item_group or perception_area, or the agent observes no items.")
	return warnings


#region virtual
## Returns what the agent perceives. Override to add game state; call the parent version
## ([code]super()[/code]) to keep position, velocity, nearby items, inventory and goal.
func _collect_observation() -> Dictionary:
	var observation := {"inventory": Array(inventory), "goal": goal}
	if _body != null:
		observation["position"] = _round_vec(_body.global_position)
		if _body is CharacterBody3D:
			observation["velocity"] = _round_vec((_body as CharacterBody3D).velocity)
		observation["nearby_items"] = _nearby_items()
	if not last_call.is_empty():
		observation["last_action"] = last_call.get("tool", "")
	return observation


#endregion


#region public API
## Starts the decision loop (when [member autostart] is off).
func start() -> void:
	_running = true


## Stops asking for decisions; the action in progress still finishes.
func stop() -> void:
	_running = false


## Sends an observation now.
func request_decision() -> void:
	if _client == null:
		return
	tick += 1
	_since_decision = 0.0
	_waiting = true
	var options := {"tick": tick, "profile": profile}
	if not allowed_tools.is_empty():
		options["tools"] = Array(allowed_tools)
	_client.observe(agent_id, _collect_observation(), deadline_ms, options)


## Finishes a custom tool announced by [signal tool_requested] and reports it to the server.
func complete_tool(ok: bool, result: Variant = {}) -> void:
	if current_tool.is_empty():
		return
	var tool_name := current_tool
	current_tool = ""
	_since_decision = 0.0
	if _client != null:
		_client.report_tool_result(agent_id, _action_tick, tool_name, ok, result)
	action_finished.emit(tool_name, ok, result)


## Executes a call {tool, arguments} as if the server had sent it (useful for tests and cutscenes).
func execute(action_call: Dictionary, action_tick: int = -1) -> void:
	if not current_tool.is_empty():
		complete_tool(false, "interrupted by a newer action")
	_action_tick = tick if action_tick < 0 else action_tick
	last_call = action_call
	var tool_name := str(action_call.get("tool", ""))
	var arguments: Dictionary = {}
	if action_call.get("arguments") is Dictionary:
		arguments = action_call["arguments"]
	current_tool = tool_name
	match tool_name:
		"move_to":
			_start_move(arguments)
		"say":
			_say(str(arguments.get("text", "")))
			_finish_builtin(true, {"said": str(arguments.get("text", ""))})
		"idle":
			_finish_builtin(true, {})
		_:
			if tool_requested.get_connections().is_empty():
				_finish_builtin(false, "the game has no handler for tool %s" % tool_name)
			else:
				tool_requested.emit(tool_name, arguments, _action_tick)


#endregion


#region private
func _on_action_received(for_agent: String, action_call: Dictionary, info: Dictionary) -> void:
	if for_agent != agent_id:
		return
	var action_tick := int(info.get("tick", tick))
	if action_tick < tick:
		return  # an answer to an observation we already replaced
	_waiting = false
	if str(info.get("status", "ok")) == "superseded" or action_call.is_empty():
		return
	execute(action_call, action_tick)


func _on_request_failed(_request_id: int, message: Dictionary, _reason: String) -> void:
	if message.get("type") == "observe" and message.get("agent_id") == agent_id:
		if int(message.get("tick", 0)) == tick:
			_waiting = false


func _start_move(arguments: Dictionary) -> void:
	var target: Variant = arguments.get("target", null)
	if not (target is Array and target.size() == 3) or _body == null:
		_finish_builtin(false, "move_to needs target [x, y, z] and a Node3D character")
		return
	_move_target = Vector3(float(target[0]), float(target[1]), float(target[2]))
	_move_elapsed = 0.0
	if _nav != null:
		_nav.target_position = _move_target


func _say(text: String) -> void:
	if _body == null:
		return
	if _bubble == null:
		_bubble = Label3D.new()
		_bubble.name = "SayBubble"
		_bubble.billboard = BaseMaterial3D.BILLBOARD_ENABLED
		_bubble.position = Vector3(0, 2.2, 0)
		_bubble.font_size = 48
		_bubble.outline_size = 12
		_body.add_child(_bubble)
	_bubble.text = text
	_bubble.visible = true
	_bubble_left = say_duration


func _finish_builtin(ok: bool, result: Variant) -> void:
	if current_tool == "move_to":
		_stop_body()
	complete_tool(ok, result)


func _stop_body() -> void:
	if _body is CharacterBody3D:
		(_body as CharacterBody3D).velocity = Vector3.ZERO


func _nearby_items() -> Array:
	var candidates: Array[Node] = []
	if perception_area != null:
		candidates.append_array(perception_area.get_overlapping_bodies())
		candidates.append_array(perception_area.get_overlapping_areas())
	elif not String(item_group).is_empty() and is_inside_tree():
		candidates = get_tree().get_nodes_in_group(item_group)
	var items: Array = []
	for node in candidates:
		var item := node as Node3D
		if item == null or item == _body or not item.is_inside_tree():
			continue
		var distance := item.global_position.distance_to(_body.global_position)
		if distance > perception_radius:
			continue
		var entry := {
			"id": str(item.name),
			"position": _round_vec(item.global_position),
			"distance": snappedf(distance, 0.01),
		}
		if item.has_meta("kind"):
			entry["kind"] = str(item.get_meta("kind"))
		items.append(entry)
	items.sort_custom(
		func(a: Dictionary, b: Dictionary) -> bool: return a["distance"] < b["distance"]
	)
	return items


## Seconds without a reply after which a decision counts as lost.
func _stall_limit() -> float:
	return maxf(2.0 * deadline_ms / 1000.0, 120.0)


static func _round_vec(v: Vector3) -> Array:
	return [snappedf(v.x, 0.01), snappedf(v.y, 0.01), snappedf(v.z, 0.01)]
#endregion
