## ArenaAgent in a scene tree: observation, built-in tools, custom tools, the script template.
extends RefCounted

const Checks := preload("res://checks.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const Client := preload("res://addons/agent_arena/client.gd")

var finished: Array = []
var requested: Array = []


func run(checks: Checks, _vectors: Dictionary) -> void:
	var root := (Engine.get_main_loop() as SceneTree).root
	var client := root.get_node_or_null("AgentArena") as Client
	checks.begin("agent.setup")
	if not checks.check(client != null, "AgentArena autoload present"):
		return
	var world := Node3D.new()
	root.add_child(world)
	var body := CharacterBody3D.new()
	body.name = "Npc"
	world.add_child(body)
	var apple := Node3D.new()
	apple.name = "apple-1"
	apple.set_meta("kind", "apple")
	apple.position = Vector3(3, 0, 4)
	apple.add_to_group("arena_items")
	world.add_child(apple)
	var far := Node3D.new()
	far.name = "far-away"
	far.position = Vector3(100, 0, 0)
	far.add_to_group("arena_items")
	world.add_child(far)
	var agent := Agent.new()
	agent.autostart = false
	agent.goal = "eat"
	agent.inventory = ["stick"]
	body.add_child(agent)
	agent.action_finished.connect(
		func(tool_name: String, ok: bool, result: Variant) -> void:
			finished.append([tool_name, ok, result])
	)
	checks.check_equal(agent.agent_id, "Npc", "agent_id defaults to the character name")

	checks.begin("agent.observation")
	var observation := agent._collect_observation()
	checks.check_equal(observation["position"], [0.0, 0.0, 0.0], "position")
	checks.check_equal(observation["inventory"], ["stick"], "inventory")
	checks.check_equal(observation["goal"], "eat", "goal")
	checks.check_equal(observation["velocity"], [0.0, 0.0, 0.0], "velocity")
	checks.check_equal(
		observation["nearby_items"],
		[{"id": "apple-1", "position": [3.0, 0.0, 4.0], "distance": 5.0, "kind": "apple"}],
		"nearby items within the radius"
	)

	checks.begin("agent.say_idle")
	var queued := client.queued_count()
	agent.execute({"tool": "say", "arguments": {"text": "hello there"}})
	var bubble := body.get_node_or_null("SayBubble") as Label3D
	checks.check(bubble != null and bubble.text == "hello there", "say shows a Label3D bubble")
	checks.check_equal(finished.back(), ["say", true, {"said": "hello there"}], "say finished")
	agent.execute({"tool": "idle", "arguments": {}})
	checks.check_equal(finished.back(), ["idle", true, {}], "idle finished")
	checks.check_equal(client.queued_count(), queued + 2, "tool results reported (queued offline)")

	checks.begin("agent.move_to")
	agent.move_speed = 5.0
	agent.execute({"tool": "move_to", "arguments": {"target": [3, 0, 4]}})
	checks.check_equal(agent.current_tool, "move_to", "move in progress")
	for i in 120:
		if agent.current_tool.is_empty():
			break
		agent._physics_process(0.05)
	checks.check(agent.current_tool.is_empty(), "arrived")
	checks.check(body.global_position.distance_to(Vector3(3, 0, 4)) <= 0.5, "near the target")
	checks.check(finished.back()[0] == "move_to" and finished.back()[1], "move_to ok")
	agent.execute({"tool": "move_to", "arguments": {"target": "nowhere"}})
	checks.check(finished.back()[0] == "move_to" and not finished.back()[1], "bad target refused")

	checks.begin("agent.custom_tools")
	agent.execute({"tool": "open_door", "arguments": {"door_id": "d1"}})
	checks.check(
		finished.back()[0] == "open_door" and not finished.back()[1], "no handler: ok = false"
	)
	agent.tool_requested.connect(
		func(tool_name: String, arguments: Dictionary, tick: int) -> void:
			requested.append([tool_name, arguments, tick])
	)
	agent.execute({"tool": "open_door", "arguments": {"door_id": "d1"}}, 7)
	checks.check_equal(requested, [["open_door", {"door_id": "d1"}, 7]], "tool_requested emitted")
	checks.check_equal(agent.current_tool, "open_door", "waits for complete_tool")
	agent.complete_tool(true, "opened")
	checks.check_equal(finished.back(), ["open_door", true, "opened"], "custom tool finished")

	checks.begin("agent.actions_from_server")
	agent.tick = 3
	client.action_received.emit("Npc", {"tool": "say", "arguments": {"text": "old"}}, {"tick": 2})
	checks.check(bubble.text != "old", "stale action (older tick) ignored")
	client.action_received.emit("other", {"tool": "say", "arguments": {"text": "x"}}, {"tick": 3})
	checks.check(bubble.text != "x", "another agent's action ignored")
	client.action_received.emit("Npc", {}, {"tick": 3, "status": "superseded"})
	client.action_received.emit("Npc", {"tool": "say", "arguments": {"text": "new"}}, {"tick": 3})
	checks.check_equal(bubble.text, "new", "fresh action executed")

	checks.begin("agent.lost_decision")
	agent.request_decision()
	checks.check(agent._waiting, "waiting for the decision")
	client.disconnected.emit("server restarted")
	checks.check(not agent._waiting, "a drop frees the agent to ask again")
	agent.request_decision()
	agent._process(agent._stall_limit() + 1.0)
	checks.check(not agent._waiting, "a reply that never comes is given up")

	checks.begin("agent.template")
	var source := FileAccess.get_file_as_string("res://templates/custom_agent.gd.txt")
	var script := GDScript.new()
	script.source_code = source.replace("_BASE_", "ArenaAgent")
	checks.check_equal(script.reload(), OK, "template compiles with extends ArenaAgent")
	var custom: Node = script.new()
	custom.set("autostart", false)
	body.add_child(custom)
	checks.check_equal(custom.call("_collect_observation")["health"], 100, "template observation")
	checks.check_equal(custom.call("_collect_mask", {}).get("open_door"), false, "template mask")
	custom.call("execute", {"tool": "open_door", "arguments": {"door_id": "d2"}})
	checks.check_equal(custom.get("current_tool"), "", "template handles its custom tool")
	checks.check(agent._get_configuration_warnings().is_empty(), "well configured: no warnings")
	var orphan := Agent.new()
	checks.check(not orphan._get_configuration_warnings().is_empty(), "orphan agent warns")
	orphan.free()
	world.queue_free()
