## Agent Arena demo: connects the AgentArena autoload, handles the game-specific tools
## (pick_up, flee, wave) and shows what the agents do. Each NPC sends an action mask with its
## observation (demo_agent.gd); a pick_up reports a reward (1 for an item taken, -0.1 for a
## failed attempt) with its tool result.
##
## Above each NPC: its last action, thought and decision latency; top left: decisions/s, p50
## latency and the count of each status. Settings come from command-line user arguments (after
## "--") or, in a web build, from the page URL query: url (e.g. ws://127.0.0.1:5556/), user,
## password. The tests run this scene under their own probe (tests/godot/demo_probe), which
## reads its switches the same way; the demo knows nothing of them.
extends Node3D

const Client := preload("res://addons/agent_arena/client.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const PICK_UP_REACH: float = 1.6
const REWARD_PICKED: float = 1.0
const REWARD_FAILED: float = -0.1
const RATE_WINDOW_S: float = 30.0
## The tools the panel counts (the demo's NPCs may use these).
const PANEL_TOOLS: Array[String] = ["move_to", "pick_up", "say", "wave", "idle"]
## A picked-up item comes back this many seconds later somewhere else (the page runs for hours).
const RESPAWN_S: float = 8.0
const WORLD_HALF_SIZE: float = 8.0
const PAGE_DEADLINE_MS: int = 30000
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
var _connection: String = "connecting"
## Decisions seen: [seconds since start, latency ms, status].
var _decisions: Array = []
var _status_counts: Dictionary = {}
## Actions executed, by tool (superseded replies carry none): the demo's tool mix.
var _tool_counts: Dictionary = {}
var _overlays: Dictionary = {}

@onready var _status: Label = $Hud/Status
@onready var _stats: Label = _make_stats_label()


func _ready() -> void:
	settings = read_settings()
	_client = get_node("/root/AgentArena") as Client
	_client.connected.connect(_on_connected)
	_client.disconnected.connect(_on_disconnected)
	_client.connection_failed.connect(_on_connection_failed)
	_client.error_received.connect(_on_error_received)
	_client.action_received.connect(_on_action_received)
	_client.message_received.connect(_on_message_received)
	for node in find_children("*", "Node", true, false):
		if node is Agent:
			var agent := node as Agent
			_agents.append(agent)
			agent.tool_requested.connect(_on_tool_requested.bind(agent))
			agent.action_finished.connect(_on_action_finished.bind(agent))
			_overlays[agent.agent_id] = _make_overlay(agent.agent_id)
			agent.deadline_ms = PAGE_DEADLINE_MS
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
	_status.text = "\n".join(_log.slice(maxi(0, _log.size() - 6)))
	_stats.text = stats_text()
	_place_overlays()


## The panel's text: connection, decisions/s over the last RATE_WINDOW_S, p50 latency, statuses
## and the tool mix (actions executed, by tool).
func stats_text() -> String:
	var recent := 0
	var latencies: Array[float] = []
	for entry: Array in _decisions:
		if entry[0] >= _elapsed - RATE_WINDOW_S:
			recent += 1
		if entry[2] != "superseded":
			latencies.append(float(entry[1]))
	var window := minf(RATE_WINDOW_S, maxf(_elapsed, 1.0))
	var p50 := "-"
	if not latencies.is_empty():
		latencies.sort()
		p50 = "%d ms" % roundi(latencies[(latencies.size() - 1) / 2])
	var counts := PackedStringArray()
	for status: String in ["ok", "fallback", "timeout", "superseded"]:
		counts.append("%s %d" % [status, int(_status_counts.get(status, 0))])
	var tools := PackedStringArray()
	for tool_name: String in PANEL_TOOLS:
		tools.append("%s %d" % [tool_name, int(_tool_counts.get(tool_name, 0))])
	for tool_name: String in _tool_counts:
		if not tool_name in PANEL_TOOLS:
			tools.append("%s %d" % [tool_name, int(_tool_counts[tool_name])])
	return (
		"%s\ndecisions %d  (%.2f/s)\np50 latency %s\n%s\n%s"
		% [
			_connection,
			_decisions.size(),
			recent / window,
			p50,
			"  ".join(counts),
			"  ".join(tools),
		]
	)


## Reads settings from "--key=value" user arguments and the web page's query string.
## (Public: the tests' probe reads its own switches through it.)
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
	return found


func _on_connected() -> void:
	_note("connected")
	_connection = "connected"


func _on_disconnected(reason: String) -> void:
	_note("disconnected: " + reason)
	_connection = "reconnecting"


func _on_connection_failed(reason: String, permanent: bool) -> void:
	_connection = "stopped (see the log)" if permanent else "server unreachable, retrying"
	_note(("stopped: " if permanent else "server unreachable: ") + reason)


func _on_message_received(message: Dictionary) -> void:
	match str(message.get("type", "")):
		"welcome":
			_note("welcome from %s (%s)" % [message.get("server"), message.get("model")])


func _on_error_received(code: String, message: String) -> void:
	_note("error %s: %s" % [code, message])


func _on_action_received(agent_id: String, call: Dictionary, info: Dictionary) -> void:
	var status := str(info.get("status", ""))
	var latency := float(info.get("latency_ms", 0.0)) if info.get("latency_ms") != null else 0.0
	_decisions.append([_elapsed, latency, status])
	_status_counts[status] = int(_status_counts.get(status, 0)) + 1
	if status == "superseded":
		return  # nothing to show: a newer decision for this NPC is on its way
	var tool_name := str(call.get("tool", "?"))
	_tool_counts[tool_name] = int(_tool_counts.get(tool_name, 0)) + 1
	_note("%s -> %s %s (%s)" % [agent_id, call.get("tool"), call.get("arguments"), status])
	var overlay := _overlays.get(agent_id) as Label
	if overlay != null:
		overlay.text = overlay_text(agent_id, call, status, latency, info.get("thought"))


## What the label above an NPC says about its last decision.
static func overlay_text(
	agent_id: String, call: Dictionary, status: String, latency_ms: float, thought: Variant
) -> String:
	var arguments := JSON.stringify(call.get("arguments", {}))
	if arguments.length() > 40:
		arguments = arguments.substr(0, 37) + "..."
	var lines := PackedStringArray([agent_id, "%s %s" % [call.get("tool", "?"), arguments]])
	if thought is String and not thought.is_empty():
		lines.append(
			'"%s"' % (thought if thought.length() <= 48 else thought.substr(0, 45) + "...")
		)
	lines.append("%d ms  %s" % [roundi(latency_ms), status])
	return "\n".join(lines)


func _on_tool_requested(tool_name: String, arguments: Dictionary, _tick: int, agent: Agent) -> void:
	var body := agent.get_parent() as Node3D
	match tool_name:
		"pick_up":
			var item := get_node_or_null("Items/" + str(arguments.get("item_id", ""))) as Node3D
			if item == null or not item.is_in_group(&"arena_items"):
				var why := "no item %s here" % arguments.get("item_id")
				agent.complete_tool(false, why, REWARD_FAILED)
			elif item.global_position.distance_to(body.global_position) > PICK_UP_REACH + 1.0:
				var why := "%s is too far; move_to it first" % item.name
				agent.complete_tool(false, why, REWARD_FAILED)
			else:
				agent.inventory.append(str(item.name))
				_take_away(item)
				agent.complete_tool(true, "picked up %s" % item.name, REWARD_PICKED)
		"wave":
			agent.complete_tool(true, "waved at %s" % arguments.get("at", "everyone"))
		"flee":
			agent.complete_tool(false, "there is no threat to flee from")
		_:
			agent.complete_tool(false, "unknown tool %s" % tool_name)


## Hides a picked-up item and brings it back later at a random place on the floor.
func _take_away(item: Node3D) -> void:
	item.remove_from_group(&"arena_items")
	item.visible = false
	await get_tree().create_timer(RESPAWN_S).timeout
	if not is_instance_valid(item):
		return
	item.position = Vector3(
		randf_range(-WORLD_HALF_SIZE, WORLD_HALF_SIZE),
		item.position.y,
		randf_range(-WORLD_HALF_SIZE, WORLD_HALF_SIZE)
	)
	item.visible = true
	item.add_to_group(&"arena_items")


func _on_action_finished(tool_name: String, ok: bool, result: Variant, agent: Agent) -> void:
	_note("%s finished %s ok=%s %s" % [agent.agent_id, tool_name, ok, result])


## A 2D label that follows the NPC on screen (crisp at any distance, unlike text in 3D).
func _make_overlay(agent_id: String) -> Label:
	var label := _boxed_label("Overlay-" + agent_id, 13)
	label.horizontal_alignment = HORIZONTAL_ALIGNMENT_CENTER
	label.text = "%s\nwaiting for its first decision" % agent_id
	$Hud.add_child(label)
	return label


## Keeps each overlay centred above its NPC's head, inside the window, never on another one.
func _place_overlays() -> void:
	var camera := get_viewport().get_camera_3d()
	if camera == null:
		return
	var screen := get_viewport().get_visible_rect().size
	var placed: Array[Rect2] = []
	for agent in _agents:
		var label := _overlays.get(agent.agent_id) as Label
		var body := agent.get_parent() as Node3D
		if label == null or body == null:
			continue
		var head := body.global_position + Vector3(0, 1.2, 0)
		label.visible = not camera.is_position_behind(head)
		label.reset_size()
		var at := camera.unproject_position(head)
		var rect := Rect2(at - Vector2(label.size.x / 2.0, label.size.y + 4.0), label.size)
		for other in placed:
			if rect.intersects(other):
				rect.position.y = other.position.y - rect.size.y - 4.0  # stack above it
		rect.position.x = clampf(rect.position.x, 4.0, maxf(4.0, screen.x - rect.size.x - 4.0))
		rect.position.y = clampf(rect.position.y, 4.0, maxf(4.0, screen.y - rect.size.y - 4.0))
		label.position = rect.position
		placed.append(rect)


func _boxed_label(label_name: String, font_size: int) -> Label:
	var label := Label.new()
	label.name = label_name
	var box := StyleBoxFlat.new()
	box.bg_color = Color(0.05, 0.06, 0.1, 0.72)
	box.set_corner_radius_all(4)
	box.content_margin_left = 6.0
	box.content_margin_right = 6.0
	box.content_margin_top = 3.0
	box.content_margin_bottom = 3.0
	label.add_theme_stylebox_override("normal", box)
	label.add_theme_font_size_override("font_size", font_size)
	label.add_theme_color_override("font_color", Color(1, 1, 0.9))
	return label


func _make_stats_label() -> Label:
	var label := _boxed_label("Stats", 15)
	label.offset_left = 10.0
	label.offset_top = 10.0
	label.horizontal_alignment = HORIZONTAL_ALIGNMENT_LEFT
	$Hud.add_child(label)
	return label


func _note(text: String) -> void:
	_log.append(text)
