## Agent Arena demo: connects the AgentArena autoload, handles the game-specific tools
## (pick_up, flee, wave) and shows what the agents do.
##
## Settings come from command-line user arguments (after "--") or, in a web build, from the page
## URL query: url (e.g. ws://127.0.0.1:5556/), user, password, e2e, expect_refused.
## With e2e set, it quits with 0 once the whole round trip was seen (used by the tests).
extends Node3D

const Client := preload("res://addons/agent_arena/client.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const PICK_UP_REACH: float = 1.6
const E2E_TIMEOUT_S: float = 120.0
const WAVE_TOOL: Dictionary = {
	"name": "wave",
	"description": "Wave at another character to greet them from afar.",
	"parameters":
	{
		"type": "object",
		"properties": {"at": {"type": "string", "maxLength": 64}},
		"additionalProperties": false,
	},
}

var settings: Dictionary = {}

var _client: Client = null
var _agents: Array[Agent] = []
var _log: PackedStringArray = PackedStringArray()
var _elapsed: float = 0.0
var _done: bool = false
var _welcomed: bool = false
var _tools_acked: bool = false
var _results_acked: int = 0
var _actions: Dictionary = {}

@onready var _status: Label = $Hud/Status


func _ready() -> void:
	settings = read_settings()
	if settings.has("e2e") or settings.has("expect_refused"):
		# Headless test runs render in software on the CPU the model needs: draw little.
		get_viewport().disable_3d = true
		Engine.max_fps = 15
	_client = get_node("/root/AgentArena") as Client
	_client.connected.connect(_on_connected)
	_client.disconnected.connect(func(reason: String) -> void: _note("disconnected: " + reason))
	_client.error_received.connect(_on_error_received)
	_client.action_received.connect(_on_action_received)
	_client.message_received.connect(_on_message_received)
	for node in find_children("*", "Node", true, false):
		if node is Agent:
			var agent := node as Agent
			_agents.append(agent)
			agent.tool_requested.connect(_on_tool_requested.bind(agent))
			agent.action_finished.connect(_on_action_finished.bind(agent))
			if settings.has("e2e"):
				agent.move_timeout = 4.0
				agent.deadline_ms = 30000
	var options := {"client_name": "agent-arena-demo", "tools": [WAVE_TOOL]}
	if settings.has("url"):
		options["url"] = settings["url"]
	elif OS.has_feature("web"):
		options["url"] = "ws://127.0.0.1:5556/"
	if settings.has("user"):
		options["username"] = settings["user"]
		options["password"] = settings.get("password", "")
	_client.verbose = true
	_client.connect_to_server("127.0.0.1", Client.DEFAULT_PORT, options)
	_note("connecting to %s" % options.get("url", "tcp://127.0.0.1:5555"))


func _process(delta: float) -> void:
	_elapsed += delta
	_status.text = "\n".join(_log.slice(maxi(0, _log.size() - 8)))
	if not settings.has("e2e") or _done:
		return
	if _elapsed > E2E_TIMEOUT_S:
		_finish(1, "E2E FAIL timeout after %.0f s; seen: %s" % [_elapsed, _progress()])
	elif (
		_welcomed
		and _tools_acked
		and _results_acked >= _agents.size()
		and _actions.size() == _agents.size()
		and _client.pings_answered >= 1
	):
		_finish(0, "E2E OK " + _progress())


## Reads settings from "--key=value" user arguments and the web page's query string.
static func read_settings() -> Dictionary:
	var found := {}
	var args := OS.get_cmdline_args() + OS.get_cmdline_user_args()
	if OS.has_feature("web"):
		var query: Variant = JavaScriptBridge.eval("window.location.search", true)
		if query is String and not query.is_empty():
			for pair in query.trim_prefix("?").split("&", false):
				args.append("--" + pair.uri_decode())
	for arg in args:
		if arg.begins_with("--") and arg.contains("="):
			var key := arg.substr(2, arg.find("=") - 2)
			found[key] = arg.substr(arg.find("=") + 1)
		elif arg == "--e2e" or arg == "--expect_refused":
			found[arg.substr(2)] = "1"
	return found


func _on_connected() -> void:
	_note("connected")
	if settings.has("expect_refused"):
		_finish(1, "E2E FAIL connected although the password is wrong")


func _on_message_received(message: Dictionary) -> void:
	match str(message.get("type", "")):
		"welcome":
			_welcomed = true
			_note("welcome from %s (%s)" % [message.get("server"), message.get("model")])
		"ack":
			if message.get("of") == "register_tools":
				_tools_acked = "wave" in message.get("tools", [])
			elif message.get("of") == "tool_result":
				_results_acked += 1


func _on_error_received(code: String, message: String) -> void:
	_note("error %s: %s" % [code, message])
	if settings.has("expect_refused") and code == "auth_refused":
		_finish(0, "E2E REFUSED " + message)
	elif settings.has("e2e"):
		_finish(1, "E2E FAIL error %s: %s" % [code, message])


func _on_action_received(agent_id: String, call: Dictionary, info: Dictionary) -> void:
	_actions[agent_id] = int(_actions.get(agent_id, 0)) + 1
	var line := {"agent_id": agent_id, "call": call, "status": info.get("status")}
	line["latency_ms"] = info.get("latency_ms")
	print("E2E ACTION ", JSON.stringify(line))
	_note("%s -> %s %s (%s)" % [agent_id, call.get("tool"), call.get("arguments"), line["status"]])


func _on_tool_requested(tool_name: String, arguments: Dictionary, _tick: int, agent: Agent) -> void:
	var body := agent.get_parent() as Node3D
	match tool_name:
		"pick_up":
			var item := get_node_or_null("Items/" + str(arguments.get("item_id", ""))) as Node3D
			if item == null:
				agent.complete_tool(false, "no item %s here" % arguments.get("item_id"))
			elif item.global_position.distance_to(body.global_position) > PICK_UP_REACH + 1.0:
				agent.complete_tool(false, "%s is too far; move_to it first" % item.name)
			else:
				agent.inventory.append(str(item.name))
				item.queue_free()
				agent.complete_tool(true, "picked up %s" % item.name)
		"wave":
			agent.complete_tool(true, "waved at %s" % arguments.get("at", "everyone"))
		"flee":
			agent.complete_tool(false, "there is no threat to flee from")
		_:
			agent.complete_tool(false, "unknown tool %s" % tool_name)


func _on_action_finished(tool_name: String, ok: bool, result: Variant, agent: Agent) -> void:
	_note("%s finished %s ok=%s %s" % [agent.agent_id, tool_name, ok, result])


func _progress() -> String:
	var state := {
		"welcome": _welcomed,
		"tools_acked": _tools_acked,
		"actions": _actions,
		"results_acked": _results_acked,
		"pings_answered": _client.pings_answered,
	}
	return JSON.stringify(state)


func _finish(code: int, line: String) -> void:
	if _done:
		return
	_done = true
	print(line)
	_client.disconnect_from_server()
	for agent in _agents:
		agent.stop()
	await get_tree().physics_frame
	await get_tree().process_frame
	get_tree().quit(code)


func _note(text: String) -> void:
	_log.append(text)
