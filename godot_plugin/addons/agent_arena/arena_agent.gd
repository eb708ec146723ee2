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
## What it perceives comes from its [ArenaSensor] children, each adding its piece to the
## observation and to the action mask (godot_plugin/README.md, "Sensors"); an agent with none
## gets the default three ([ItemSensor], [ThreatSensor], [EarshotSensor]) when [member
## add_default_sensors] is on. Override [method _collect_observation] to describe the world
## your way.
## [br][br]With every observation it also sends an action mask (when [member send_mask] is on):
## what is possible right now, from what the agent perceives. By default [code]pick_up[/code]
## may only name the items in reach, [code]flee[/code] only the threats in sight, and
## [code]say[/code] is impossible when nobody can hear. Override [method _collect_mask] to
## describe your own.

## A tool the agent does not execute itself; call [method complete_tool] when it is done.
signal tool_requested(tool_name: String, arguments: Dictionary, tick: int)
## An action (built-in or custom) finished and its result was reported to the server.
signal action_finished(tool_name: String, ok: bool, result: Variant)

const Client := preload("res://addons/agent_arena/client.gd")
const DefaultItems := preload("res://addons/agent_arena/sensors/item_sensor.gd")
const DefaultThreats := preload("res://addons/agent_arena/sensors/threat_sensor.gd")
const DefaultEarshot := preload("res://addons/agent_arena/sensors/earshot_sensor.gd")
const BUILTIN_TOOLS: PackedStringArray = ["move_to", "say", "idle"]
const AUTOLOAD_PATH: NodePath = ^"/root/AgentArena"
## Every ArenaAgent is in this group (so agents hear each other's [code]say[/code]).
const AGENT_GROUP: StringName = &"arena_agents"
## The server's limit of allowed values per argument in a mask.
const MAX_MASK_VALUES: int = 256
## At most this many things heard are kept until the next observation (the newest ones).
const MAX_HEARD: int = 16

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
## Without an [ArenaSensor] child, add the default three at start: [code]Items[/code]
## ([ItemSensor]: [code]arena_items[/code] within 15 m, in reach at 1.6 m),
## [code]Threats[/code] ([ThreatSensor]: [code]arena_threats[/code] within 15 m) and
## [code]Earshot[/code] ([EarshotSensor]: [code]arena_characters[/code] within 10 m).
@export var add_default_sensors: bool = true

@export_group("Action mask")
## Send an action mask with every observation: what is possible now (docs/godot.md).
@export var send_mask: bool = true

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
## The mask sent with the latest observation (empty: none was sent).
var last_mask: Dictionary = {}
## What was said to this agent since its last observation: [code]{from, text}[/code] entries,
## sent as [code]heard[/code] by its [EarshotSensor]. See [method hear].
var heard: Array[Dictionary] = []
## The sensor children it perceives through, in child order (set in [method _ready]).
var sensors: Array[ArenaSensor] = []

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
## Request id of the observation waiting for its decision.
var _pending_id: int = 0
## The server refused the mask of the last observation: send the next one without a mask.
var _mask_refused: bool = false


func _ready() -> void:
	if Engine.is_editor_hint():
		return
	if agent_id.is_empty():
		agent_id = str(get_parent().name) if get_parent() != null else str(name)
	_body = get_parent() as Node3D
	add_to_group(AGENT_GROUP)
	if _body != null:
		for child in _body.get_children():
			if child is NavigationAgent3D:
				_nav = child
	_setup_sensors()
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
	# An error reply (e.g. a mask the server refused) is the answer to that observation.
	_client.message_received.connect(_on_message_received)
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
	return warnings


#region virtual
## Returns what the agent perceives: inventory, goal, position and velocity, then what each
## sensor senses (by default nearby items, threats, what it heard). Override to add game state;
## call the parent version ([code]super()[/code]) to keep those.
func _collect_observation() -> Dictionary:
	var observation := {"inventory": Array(inventory), "goal": goal}
	if _body != null:
		observation["position"] = ArenaSensor.round_vec(_body.global_position)
		if _body is CharacterBody3D:
			observation["velocity"] = ArenaSensor.round_vec((_body as CharacterBody3D).velocity)
	for sensor in sensors:
		observation.merge(sensor.sense(self), true)
	if not last_call.is_empty():
		observation["last_action"] = last_call.get("tool", "")
	return observation


## Returns the action mask for this decision: tool name -> [code]false[/code] (not possible
## now), [code]true[/code] (possible, arguments as registered) or [code]{argument: [allowed
## values]}[/code]; tools left out stay as registered. [param observation] is what
## [method _collect_observation] returned. The default merges each sensor's
## [method ArenaSensor.mask]; with the default sensors:
## [br]- [code]pick_up[/code]: [code]{item_id: [the items in reach]}[/code], false when none is;
## [br]- [code]flee[/code]: [code]{threat_id: [the threats in sight]}[/code], false when none is;
## [br]- [code]say[/code]: false when no character is within earshot and nobody spoke to the
##   agent since its last observation.
## [br]Override it to describe your game (call [code]super(observation)[/code] to start from
## the default). Before it is sent, the mask keeps only the tools that are registered on the
## server and in [member allowed_tools]; a mask that would leave no tool possible is not sent.
func _collect_mask(_observation: Dictionary) -> Dictionary:
	var mask := {}
	for sensor in sensors:
		mask.merge(sensor.mask(self), true)
	return mask


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
	var observation := _collect_observation()
	last_mask = {}
	if send_mask and not _mask_refused:
		last_mask = checked_mask(_collect_mask(observation))
	_mask_refused = false
	if not last_mask.is_empty():
		options["mask"] = last_mask
	heard.clear()  # sent once
	_pending_id = _client.observe(agent_id, observation, deadline_ms, options)


## Finishes a custom tool announced by [signal tool_requested] and reports it to the server;
## [param reward] (a number, optional) is kept with the decision for training data.
func complete_tool(ok: bool, result: Variant = {}, reward: Variant = null) -> void:
	if current_tool.is_empty():
		return
	var tool_name := current_tool
	current_tool = ""
	_since_decision = 0.0
	if _client != null:
		_client.report_tool_result(agent_id, _action_tick, tool_name, ok, result, reward)
	action_finished.emit(tool_name, ok, result)


## Someone said [param text] to this agent (another ArenaAgent's [code]say[/code] within its
## earshot calls this; a game calls it for the player's chat). The next observation carries it
## under [code]heard[/code] (through its [EarshotSensor]), and [code]say[/code] is possible then.
func hear(speaker: String, text: String) -> void:
	heard.append({"from": speaker, "text": text})
	if heard.size() > MAX_HEARD:
		heard = heard.slice(heard.size() - MAX_HEARD)


## The character this agent drives (its parent, when that is a [Node3D]; null before
## [method _ready]).
func get_character() -> Node3D:
	return _body


## The first of [member sensors] that is an instance of [param type] (a sensor script, e.g.
## [code]get_sensor(ItemSensor)[/code]), or null.
func get_sensor(type: Script) -> ArenaSensor:
	for sensor in sensors:
		if is_instance_of(sensor, type):
			return sensor
	return null


## [param mask] as the server accepts it: only tools that are possible candidates (registered
## on the server, as its welcome and register_tools ack said, and in [member allowed_tools] when
## that is set), value lists as plain arrays of at most [constant MAX_MASK_VALUES]. Empty when
## nothing is known about the server's tools yet, or when the mask would leave no tool possible
## (the observation then goes without one: the server decides as without masks).
func checked_mask(mask: Dictionary) -> Dictionary:
	var registered := _client.server_tools if _client != null else PackedStringArray()
	if registered.is_empty() and allowed_tools.is_empty():
		return {}
	var candidates := PackedStringArray()
	for tool_name in allowed_tools if not allowed_tools.is_empty() else registered:
		if registered.is_empty() or tool_name in registered:
			candidates.append(tool_name)
	var out := {}
	var possible := 0
	for tool_name: String in candidates:
		var rule: Variant = mask.get(tool_name, true)
		if rule is Dictionary:
			var arguments := {}
			var open := true
			for argument: Variant in rule:
				var values := _as_array(rule[argument]).slice(0, MAX_MASK_VALUES)
				arguments[str(argument)] = values
				open = open and not values.is_empty()
			out[tool_name] = arguments
			possible += 1 if open else 0
		elif rule is bool:
			if mask.has(tool_name):
				out[tool_name] = rule
			possible += 1 if rule else 0
		else:
			possible += 1  # not a rule: the tool stays as registered
	return out if possible > 0 else {}


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
			_tell_listeners(str(arguments.get("text", "")))
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


func _on_message_received(message: Dictionary) -> void:
	if not _waiting or message.get("type") != "error" or message.get("id") != _pending_id:
		return
	_waiting = false
	var text := str(message.get("message", ""))
	push_warning(
		(
			"ArenaAgent %s: the server refused its observation: %s %s"
			% [agent_id, message.get("code"), text]
		)
	)
	if not last_mask.is_empty() and text.begins_with("mask"):
		# Decide now without the mask (as a game without masks would) rather than not at all.
		_mask_refused = true
		request_decision()


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


## Every other ArenaAgent within earshot (as this agent's [EarshotSensor] decides) hears
## [param text]; without one, nobody does.
func _tell_listeners(text: String) -> void:
	var earshot := get_sensor(DefaultEarshot) as EarshotSensor
	if _body == null or text.is_empty() or earshot == null:
		return
	for other in earshot.agents_in_earshot(self):
		other.hear(agent_id, text)


## Collects the sensor children (adding the default three when there are none and
## [member add_default_sensors] is on) and sets each up.
func _setup_sensors() -> void:
	sensors.clear()
	for child in get_children():
		if child is ArenaSensor:
			sensors.append(child)
	if sensors.is_empty() and add_default_sensors:
		var defaults := {
			"Items": DefaultItems, "Threats": DefaultThreats, "Earshot": DefaultEarshot
		}
		for sensor_name: String in defaults:
			var sensor: ArenaSensor = defaults[sensor_name].new()
			sensor.name = sensor_name
			add_child(sensor)
			sensors.append(sensor)
	for sensor in sensors:
		sensor.setup(self)


## Seconds without a reply after which a decision counts as lost.
func _stall_limit() -> float:
	return maxf(2.0 * deadline_ms / 1000.0, 120.0)


## [param value] as an Array (packed arrays converted; anything else becomes one element).
static func _as_array(value: Variant) -> Array:
	if value is Array:
		return value
	if typeof(value) > TYPE_ARRAY and typeof(value) < TYPE_MAX:
		return Array(value)  # a packed array
	return [value]

#endregion
