## The demo's test run: the main scene of the demo project as the tests pack it
## (tests/support/godot_harness.py, demo_probe_files), with the demo's own scene
## (res://main.tscn) as its child. The demo stays a game; what only tests want lives here,
## switched on by the same "--key=value" user arguments or page query the demo reads (main.gd,
## read_settings):
## [br]- e2e: quit with 0 once the whole round trip was seen (welcome, the demo's tool
##   registered, an action for each NPC, their tool results acknowledged, a PING answered and
##   a decision the model made for an observation that carried a mask), printing "E2E OK
##   {progress}"; 1 with "E2E FAIL ..." on an error or after E2E_TIMEOUT_S (a hang guard);
## [br]- expect_refused: quit with 0 ("E2E REFUSED") when the server refuses the password;
## [br]- pause_s=S (with e2e): pause the whole tree for S seconds after the welcome; the round
##   trip then also needs the pause to have ended on the same connection;
## [br]- shot=N: print "DEMO SHOT {state}" (the overlays, the panel, how far each NPC moved)
##   once N decisions arrived, an NPC walked and both overlays show a decision; the runner
##   takes its screenshot then.
## [br]Every decision is printed as "E2E ACTION {json}" with the mask its observation carried.
extends Node

const Client := preload("res://addons/agent_arena/client.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const Demo := preload("res://main.gd")
## Guards against a hang only: the e2e run ends as soon as its round trip is complete, so a slow
## machine takes longer but never fails on time. Decisions get a deadline no model misses.
const E2E_TIMEOUT_S: float = 1500.0
const E2E_DEADLINE_MS: int = 600000
const E2E_MOVE_TIMEOUT_S: float = 4.0
const WAITING_TEXT: String = "waiting for its first decision"

var settings: Dictionary = {}

var _demo: Node3D = null
var _client: Client = null
var _agents: Array[Agent] = []
var _agents_by_id: Dictionary = {}
var _start_positions: Dictionary = {}
var _elapsed: float = 0.0
var _done: bool = false
var _welcomed: bool = false
var _tools_acked: bool = false
var _results_acked: int = 0
var _actions: Dictionary = {}
var _ok_actions: int = 0
## Decisions of the model (status ok, at least one model call: not a call the server forced
## because the mask left only one) for observations sent with a mask.
var _masked_ok_actions: int = 0
var _decisions: int = 0
var _status_counts: Dictionary = {}
var _tool_counts: Dictionary = {}
var _disconnects: int = 0
var _shot_taken: bool = false
## -1: no pause asked; 0: pause pending or running; 1: pause over.
var _pause_state: int = -1
var _pings_at_pause: int = 0
var _pings_during_pause: int = 0


## Runs after the demo's _ready (its child), before the first frame, so the first observations
## already carry the e2e deadline.
func _ready() -> void:
	_demo = get_node("Main") as Node3D
	settings = Demo.read_settings()
	# After the demo's _process, so the panel is the one drawn this frame.
	process_priority = 100
	if settings.has("e2e") or settings.has("expect_refused"):
		# Headless test runs render in software on the CPU the model needs: draw little.
		get_viewport().disable_3d = true
		Engine.max_fps = 15
	elif settings.has("shot"):
		Engine.max_fps = 10  # drawn in software in the screenshot test: leave the CPU to the model
	if settings.has("pause_s"):
		_pause_state = 0
	_client = get_node("/root/AgentArena") as Client
	_client.connected.connect(_on_connected)
	_client.disconnected.connect(func(_reason: String) -> void: _disconnects += 1)
	_client.error_received.connect(_on_error_received)
	_client.action_received.connect(_on_action_received)
	_client.message_received.connect(_on_message_received)
	for node in _demo.find_children("*", "Node", true, false):
		if node is Agent:
			var agent := node as Agent
			_agents.append(agent)
			_agents_by_id[agent.agent_id] = agent
			_start_positions[agent.agent_id] = agent.get_character().global_position
			if settings.has("e2e"):
				agent.move_timeout = E2E_MOVE_TIMEOUT_S
				agent.deadline_ms = E2E_DEADLINE_MS


func _process(delta: float) -> void:
	_elapsed += delta
	if settings.has("shot") and not _shot_taken:
		_maybe_shot()
	if not settings.has("e2e") or _done:
		return
	if _elapsed > E2E_TIMEOUT_S:
		_finish(
			1, "E2E FAIL no complete round trip after %.0f s; seen: %s" % [_elapsed, _progress()]
		)
	elif (
		_welcomed
		and _tools_acked
		and _results_acked >= _agents.size()
		and _actions.size() == _agents.size()
		and _ok_actions >= 1
		and _masked_ok_actions >= 1
		and _client.pings_answered >= 1
		and _pause_state != 0
	):
		_finish(0, "E2E OK " + _progress())


func _on_connected() -> void:
	if settings.has("expect_refused"):
		_finish(1, "E2E FAIL connected although the password is wrong")


func _on_message_received(message: Dictionary) -> void:
	match str(message.get("type", "")):
		"welcome":
			_welcomed = true
			if _pause_state == 0 and not get_tree().paused:
				_pause_game(float(settings["pause_s"]))
		"ack":
			if message.get("of") == "register_tools":
				_tools_acked = "wave" in message.get("tools", [])
			elif message.get("of") == "tool_result":
				_results_acked += 1


func _on_error_received(code: String, message: String) -> void:
	if settings.has("expect_refused") and code == "auth_refused":
		_finish(0, "E2E REFUSED " + message)
	elif settings.has("e2e"):
		_finish(1, "E2E FAIL error %s: %s" % [code, message])


func _on_action_received(agent_id: String, call: Dictionary, info: Dictionary) -> void:
	var status := str(info.get("status", ""))
	_decisions += 1
	_status_counts[status] = int(_status_counts.get(status, 0)) + 1
	if status == "superseded":
		return
	_actions[agent_id] = int(_actions.get(agent_id, 0)) + 1
	var tool_name := str(call.get("tool", "?"))
	_tool_counts[tool_name] = int(_tool_counts.get(tool_name, 0)) + 1
	# The agent handled the action first (it connected before us) and asks again only in a
	# later frame, so its last mask is still the one of this decision's observation.
	var agent := _agents_by_id.get(agent_id) as Agent
	var mask: Variant = null
	if agent != null and int(info.get("tick", -1)) == agent.tick and not agent.last_mask.is_empty():
		mask = agent.last_mask
	var usage: Variant = info.get("usage")
	var attempts := int(usage.get("attempts", 0)) if usage is Dictionary else 0
	if status == "ok":
		_ok_actions += 1
		_masked_ok_actions += 1 if mask != null and attempts >= 1 else 0
	var line := {"agent_id": agent_id, "call": call, "status": status, "tick": info.get("tick")}
	line["attempts"] = attempts
	line["latency_ms"] = info.get("latency_ms")
	line["thought"] = info.get("thought")
	line["mask"] = mask
	print("E2E ACTION ", JSON.stringify(line))


## Pauses the whole tree (as a game's pause menu does) for [param seconds]; the AgentArena
## autoload must keep the connection alive meanwhile.
func _pause_game(seconds: float) -> void:
	print("pausing the game for %.0f s" % seconds)
	_pings_at_pause = _client.pings_answered
	get_tree().paused = true
	await get_tree().create_timer(seconds, true).timeout  # this timer runs while paused
	_pings_during_pause = _client.pings_answered - _pings_at_pause
	get_tree().paused = false
	_pause_state = 1
	print("game resumed; %d PINGs answered while paused" % _pings_during_pause)


func _maybe_shot() -> void:
	var wanted := int(settings.get("shot", "4"))
	var moved := _moved()
	var walked := false
	for agent_id: String in moved:
		walked = walked or moved[agent_id] >= 0.5
	var overlays := {}
	for agent in _agents:
		var label := _demo.get_node_or_null("Hud/Overlay-" + agent.agent_id) as Label
		if label != null and not label.text.ends_with(WAITING_TEXT):
			overlays[agent.agent_id] = label.text
	if _decisions - int(_status_counts.get("superseded", 0)) < wanted:
		return
	if not walked or overlays.size() < _agents.size():
		return
	_shot_taken = true
	var state := {
		"decisions": _decisions,
		"statuses": _status_counts,
		"moved": moved,
		"overlays": overlays,
		"panel": (_demo.get_node("Hud/Stats") as Label).text,
	}
	print("DEMO SHOT ", JSON.stringify(state))


## Metres each NPC is away from where it started.
func _moved() -> Dictionary:
	var out := {}
	for agent in _agents:
		var start: Vector3 = _start_positions[agent.agent_id]
		var distance := agent.get_character().global_position.distance_to(start)
		out[agent.agent_id] = snappedf(distance, 0.01)
	return out


func _progress() -> String:
	var state := {
		"welcome": _welcomed,
		"tools_acked": _tools_acked,
		"actions": _actions,
		"results_acked": _results_acked,
		"ok_actions": _ok_actions,
		"masked_ok_actions": _masked_ok_actions,
		"tools": _tool_counts,
		"disconnects": _disconnects,
		"pause_over": _pause_state == 1,
		"pings_during_pause": _pings_during_pause,
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
