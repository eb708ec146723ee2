## Action masks: the mask an ArenaAgent builds for a scene state, and the observe frame that
## carries it (decoded from the bytes the client writes). Frames are also printed as
## "MASK FRAME <label> <hex>" so tests/integration/test_godot_unit.py decodes them with
## msgpack-python and applies them with the server's own code (protocol.decode,
## tools.apply_mask).
extends RefCounted

const Checks := preload("res://checks.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const Client := preload("res://addons/agent_arena/client.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")
const FakeTransport := preload("res://fake_transport.gd")
const TestClient := preload("res://test_client.gd")
const Items := preload("res://addons/agent_arena/sensors/item_sensor.gd")
## The server's default tools (configs/tools/game.yaml), as its welcome lists them.
const DEFAULT_TOOLS: Array = ["move_to", "pick_up", "say", "flee", "idle"]
## Far from whatever the other suites left in the tree.
const ORIGIN := Vector3(1000, 0, 0)

var _tree: SceneTree = null
var _handshake: PackedByteArray = PackedByteArray()
var _world: Node3D = null
var _fake: FakeTransport = null
var _client: Client = null


func run(checks: Checks, vectors: Dictionary) -> void:
	_tree = Engine.get_main_loop() as SceneTree
	var router: Dictionary = vectors["zmtp"]["router"]
	_handshake = (
		str(router["null"]["greeting"]).hex_decode() + str(router["null"]["ready"]).hex_decode()
	)
	await _tree.process_frame  # nodes the earlier suites queued for deletion are gone
	_world = Node3D.new()
	_world.name = "MaskWorld"
	_world.position = ORIGIN
	_tree.root.add_child(_world)
	_server_tools(checks)
	var npc := _agent("Npc", Vector3.ZERO)
	_item("apple-1", Vector3(1, 0, 0), "arena_items")
	_item("apple-2", Vector3(0, 0, 1.5), "arena_items")
	_item("stone-1", Vector3(5, 0, 0), "arena_items")
	_item("far-1", Vector3(100, 0, 0), "arena_items")
	_defaults(checks, npc)
	_threats(checks, npc)
	_hearing(checks, npc)
	_allowed_tools(checks, npc)
	_unknown_server(checks, npc)
	_refused_mask(checks, npc)
	_overrides(checks)
	_client_options(checks)
	_world.queue_free()
	await _tree.process_frame


func _server_tools(checks: Checks) -> void:
	checks.begin("masks.server_tools")
	_fake = FakeTransport.new()
	_client = Client.new()
	_client.connect_to_server("127.0.0.1", 5555, {"transport": _fake})
	_client._process(0.016)
	_fake.inbox = _handshake
	_client._process(0.016)
	checks.check(_client.is_connected_to_server(), "connected to the fake server")
	checks.check(_client.server_tools.is_empty(), "no tools known before the welcome")
	_fake.inbox = TestClient._frame({"type": "welcome", "id": 1, "tools": DEFAULT_TOOLS})
	_client._process(0.016)
	checks.check_equal(Array(_client.server_tools), DEFAULT_TOOLS, "tools from the welcome")
	var after_register := DEFAULT_TOOLS + ["wave"]
	var ack := {"type": "ack", "id": 2, "of": "register_tools", "tools": after_register}
	_fake.inbox = TestClient._frame(ack)
	_client._process(0.016)
	checks.check_equal(Array(_client.server_tools), after_register, "tools from the ack")
	_fake.inbox = TestClient._frame({"type": "ack", "id": 3, "of": "tool_result"})
	_client._process(0.016)
	checks.check_equal(Array(_client.server_tools), after_register, "other acks change nothing")


func _defaults(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.items_in_reach")
	var items := npc.get_sensor(Items) as Items
	checks.check_equal(items.in_reach(npc), ["apple-1", "apple-2"], "in reach, nearest first")
	var sent := _observe(npc, "items_in_reach")
	var expected := {"pick_up": {"item_id": ["apple-1", "apple-2"]}, "flee": false, "say": false}
	checks.check_equal(sent.get("mask"), expected, "pick_up: the items in reach; no threat, alone")
	checks.check_equal(npc.last_mask, expected, "last_mask is what was sent")
	var observation: Dictionary = sent.get("observation", {})
	checks.check(not observation.has("threats"), "no threats key without threats")
	checks.check(not observation.has("heard"), "no heard key when nobody spoke")
	checks.check(not sent.has("tools"), "no allowed list")

	checks.begin("masks.nothing_in_reach")
	items.reach_distance = 0.5
	sent = _observe(npc, "nothing_in_reach")
	checks.check_equal(
		sent.get("mask"), {"pick_up": false, "flee": false, "say": false}, "pick_up false"
	)
	items.reach_distance = 1.6


func _threats(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.threats")
	var wolf := _item("wolf-1", Vector3(0, 0, -4), "arena_threats")
	wolf.set_meta("kind", "wolf")
	var far_wolf := _item("wolf-2", Vector3(0, 0, -40), "arena_threats")
	var sent := _observe(npc, "threat")
	checks.check_equal(
		sent.get("mask", {}).get("flee"), {"threat_id": ["wolf-1"]}, "flee: the threat in sight"
	)
	checks.check_equal(
		sent["observation"].get("threats"),
		[{"id": "wolf-1", "position": [1000.0, 0.0, -4.0], "distance": 4.0, "kind": "wolf"}],
		"threats in the observation"
	)
	checks.check(
		not sent["observation"]["nearby_items"].any(
			func(item: Dictionary) -> bool: return item["id"] == "wolf-1"
		),
		"a threat is not an item"
	)
	wolf.free()
	far_wolf.free()
	sent = _observe(npc, "threat_gone")
	checks.check_equal(sent.get("mask", {}).get("flee"), false, "flee false once it is gone")


func _hearing(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.hearing")
	var friend := _agent("Friend", Vector3(3, 0, 0))
	var stranger := _agent("Stranger", Vector3(0, 0, 60))
	var sent := _observe(npc, "someone_near")
	checks.check(not sent.get("mask", {}).has("say"), "say possible: a character in earshot")
	checks.check(
		(friend.get_parent() as Node).is_in_group(&"arena_characters"), "bodies join the group"
	)
	friend.execute({"tool": "say", "arguments": {"text": "hello Npc"}})
	checks.check_equal(npc.heard, [{"from": "Friend", "text": "hello Npc"}], "Npc heard Friend")
	checks.check(stranger.heard.is_empty(), "a character 60 m away did not")
	checks.check(friend.heard.is_empty(), "nobody hears themselves")
	sent = _observe(npc, "heard")
	checks.check_equal(
		sent["observation"].get("heard"),
		[{"from": "Friend", "text": "hello Npc"}],
		"what it heard is in the observation"
	)
	checks.check(npc.heard.is_empty(), "and sent once")
	friend.get_parent().free()
	sent = _observe(npc, "alone_again")
	checks.check_equal(sent.get("mask", {}).get("say"), false, "nobody in earshot: say false")
	for i in Agent.MAX_HEARD + 5:
		npc.hear("crowd", "shout %d" % i)
	checks.check_equal(npc.heard.size(), Agent.MAX_HEARD, "a stopped agent keeps the newest only")
	checks.check_equal(npc.heard.back()["text"], "shout %d" % (Agent.MAX_HEARD + 4), "newest kept")
	npc.heard.clear()
	npc.hear("player", "where is the well?")
	sent = _observe(npc, "player_spoke")
	checks.check(not sent.get("mask", {}).has("say"), "someone spoke to it: say possible")
	checks.check_equal(
		sent["observation"].get("heard"),
		[{"from": "player", "text": "where is the well?"}],
		"heard"
	)
	stranger.get_parent().free()


func _allowed_tools(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.allowed_tools")
	npc.allowed_tools = PackedStringArray(["move_to", "pick_up", "idle"])
	var sent := _observe(npc, "allowed")
	checks.check_equal(sent.get("tools"), ["move_to", "pick_up", "idle"], "the allowed list")
	checks.check_equal(
		sent.get("mask"),
		{"pick_up": {"item_id": ["apple-1", "apple-2"]}},
		"only allowed tools are named"
	)
	npc.allowed_tools = PackedStringArray(["pick_up", "flee"])
	var items := npc.get_sensor(Items) as Items
	items.reach_distance = 0.5
	sent = _observe(npc, "nothing_possible")
	checks.check(not sent.has("mask"), "a mask that leaves nothing possible is not sent")
	checks.check(npc.last_mask.is_empty(), "last_mask empty then")
	items.reach_distance = 1.6
	npc.allowed_tools = PackedStringArray()

	checks.begin("masks.registered_tools")
	var ack := {"type": "ack", "id": 9, "of": "register_tools", "tools": ["move_to", "say", "idle"]}
	_fake.inbox = TestClient._frame(ack)
	_client._process(0.016)
	sent = _observe(npc, "registered")
	checks.check_equal(sent.get("mask"), {"say": false}, "unregistered tools are not named")
	_fake.inbox = TestClient._frame({"type": "welcome", "id": 10, "tools": DEFAULT_TOOLS})
	_client._process(0.016)

	checks.begin("masks.send_mask")
	npc.send_mask = false
	sent = _observe(npc, "")
	checks.check(not sent.has("mask"), "send_mask off: no mask")
	checks.check(sent["observation"].has("nearby_items"), "the observation is as before")
	npc.send_mask = true


func _unknown_server(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.before_the_welcome")
	var fake := FakeTransport.new()
	var client := Client.new()
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake})
	client._process(0.016)
	fake.inbox = _handshake
	client._process(0.016)
	fake.written = PackedByteArray()  # the greeting and hello
	var own := npc._client
	npc._client = client
	npc.request_decision()
	var sent := _last_observe(fake)
	checks.check(not sent.has("mask"), "tools unknown and none allowed: no mask")
	npc.allowed_tools = PackedStringArray(["pick_up", "idle"])
	npc.request_decision()
	sent = _last_observe(fake)
	checks.check_equal(
		sent.get("mask"),
		{"pick_up": {"item_id": ["apple-1", "apple-2"]}},
		"tools unknown: the allowed ones are named"
	)
	npc.allowed_tools = PackedStringArray()
	npc._client = own
	client.disconnect_from_server()
	client.free()


func _refused_mask(checks: Checks, npc: Agent) -> void:
	checks.begin("masks.refused")
	# The agent listens to the autoload; here the fake server's client carries the replies.
	_client.message_received.connect(npc._on_message_received)
	var sent := _observe(npc, "")
	checks.check(sent.has("mask") and npc._waiting, "an observation with a mask is waiting")
	_fake.written = PackedByteArray()
	var refusal := {
		"type": "error",
		"id": sent["id"],
		"code": "bad_message",
		"message": "mask.pick_up: no such tool is registered; registered: idle",
	}
	_fake.inbox = TestClient._frame(refusal)
	_client._process(0.016)
	var again := _last_observe(_fake)
	checks.check_equal(again.get("tick"), int(sent["tick"]) + 1, "asked again at once")
	checks.check(not again.has("mask"), "without the mask the server refused")
	checks.check(npc._waiting and npc.last_mask.is_empty(), "waiting for that decision")
	_fake.written = PackedByteArray()
	var other := {"type": "error", "id": again["id"], "code": "overloaded", "message": "busy"}
	_fake.inbox = TestClient._frame(other)
	_client._process(0.016)
	checks.check(not npc._waiting, "any error reply ends the wait (no 120 s stall)")
	checks.check(_last_observe(_fake).is_empty(), "another error: no immediate retry")
	var next := _observe(npc, "")
	checks.check(next.has("mask"), "the next observation has its mask again")
	_fake.inbox = TestClient._frame({"type": "error", "id": 99999, "code": "x", "message": "mask"})
	_client._process(0.016)
	checks.check(npc._waiting, "an error for another request changes nothing")
	_client.message_received.disconnect(npc._on_message_received)


func _overrides(checks: Checks) -> void:
	checks.begin("masks.override")
	var script := GDScript.new()
	script.source_code = """extends ArenaAgent

var values: Array = []


func _collect_mask(observation: Dictionary) -> Dictionary:
	var mask := super(observation)
	mask["pick_up"] = {"item_id": PackedStringArray(["apple-2"])}
	mask["open_door"] = false
	mask["say"] = true
	if not values.is_empty():
		mask["move_to"] = {"target": values}
	return mask
"""
	if not checks.check_equal(script.reload(), OK, "an override compiles"):
		return
	var body := CharacterBody3D.new()
	body.name = "Custom"
	_world.add_child(body)
	var custom: Agent = script.new()
	custom.autostart = false
	body.add_child(custom)
	var sent := _observe(custom, "override")
	checks.check_equal(
		sent.get("mask"),
		{"pick_up": {"item_id": ["apple-2"]}, "flee": false, "say": true},
		"the game's mask: packed arrays as arrays, unregistered tools left out"
	)
	var many: Array = []
	for i in 300:
		many.append([float(i), 0.0, 0.0])
	custom.set("values", many)
	sent = _observe(custom, "")
	var targets: Array = sent.get("mask", {}).get("move_to", {}).get("target", [])
	checks.check_equal(targets.size(), Agent.MAX_MASK_VALUES, "at most 256 values per argument")
	checks.check_equal(targets[255], [255.0, 0.0, 0.0], "the first 256 are kept")

	checks.begin("masks.reward")
	custom.execute({"tool": "open_door", "arguments": {}})
	custom.tool_requested.connect(func(_n: String, _a: Dictionary, _t: int) -> void: pass)
	custom.execute({"tool": "open_door", "arguments": {}}, 4)
	_fake.written = PackedByteArray()
	custom.complete_tool(true, "opened", 1)
	var result := _last_of(_fake, "tool_result")
	checks.check_equal(result.get("reward"), 1.0, "reward sent as a float")
	custom.execute({"tool": "open_door", "arguments": {}}, 5)
	custom.complete_tool(false, "locked")
	result = _last_of(_fake, "tool_result")
	checks.check(not result.has("reward"), "no reward: no field")
	checks.check_equal(result.get("ok"), false, "the result is reported")
	body.free()


func _client_options(checks: Checks) -> void:
	checks.begin("masks.client_observe")
	_fake.written = PackedByteArray()
	_client.observe("x", {"a": 1}, 0, {"mask": {}})
	checks.check(not _last_of(_fake, "observe").has("mask"), "an empty mask is not sent")
	var mask := {"pick_up": {"item_id": ["apple-3"]}, "move_to": {"target": [[7, 0, 3], [1, 0, 9]]}}
	_client.observe("x", {"a": 1}, 0, {"mask": mask, "profile": ""})
	var sent := _last_of(_fake, "observe")
	checks.check_equal(sent.get("mask"), mask, "the mask goes through as given")
	checks.check(not sent.has("profile"), "an empty profile is still left out")
	_client.disconnect_from_server()
	_client.free()


#region helpers
func _agent(agent_name: String, at: Vector3) -> Agent:
	var body := CharacterBody3D.new()
	body.name = agent_name
	body.position = at
	_world.add_child(body)
	var agent := Agent.new()
	agent.autostart = false
	body.add_child(agent)
	agent._client = _client
	return agent


func _item(item_name: String, at: Vector3, group: StringName) -> Node3D:
	var item := Node3D.new()
	item.name = item_name
	item.position = at
	item.add_to_group(group)
	_world.add_child(item)
	return item


## Sends one observation of [param agent] and returns the observe message it wrote; with a
## [param label], prints the frame for the Python side.
func _observe(agent: Agent, label: String) -> Dictionary:
	if agent._client != _client:
		agent._client = _client
	_fake.written = PackedByteArray()
	agent.request_decision()
	var payloads := _payloads(_fake)
	if payloads.is_empty():
		return {}
	var payload: PackedByteArray = payloads[payloads.size() - 1]
	if not label.is_empty():
		print("MASK FRAME %s %s" % [label, payload.hex_encode()])
	var decoded: Variant = Msgpack.unpack(payload).value
	return decoded if decoded is Dictionary else {}


func _last_observe(fake: FakeTransport) -> Dictionary:
	return _last_of(fake, "observe")


func _last_of(fake: FakeTransport, type: String) -> Dictionary:
	var found := {}
	for payload: PackedByteArray in _payloads(fake):
		var message: Variant = Msgpack.unpack(payload).value
		if message is Dictionary and message.get("type") == type:
			found = message
	return found


## Bodies of the message frames (not commands) in what the client wrote.
static func _payloads(fake: FakeTransport) -> Array:
	var out: Array = []
	for entry: Array in TestClient._frames(fake.written):
		if not (entry[0] & Zmtp.FLAG_COMMAND):
			out.append(entry[1])
	return out
#endregion
