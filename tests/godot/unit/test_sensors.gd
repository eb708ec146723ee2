## Sensors: what each ArenaSensor perceives in a small scene (its observation piece and its mask
## piece), how an ArenaAgent merges its sensor children, the defaults an agent without sensors
## gets, and the demo's NPC (godot_plugin/demo/demo_agent.gd) composed as in main.tscn.
extends RefCounted

const Checks := preload("res://checks.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")
const Items := preload("res://addons/agent_arena/sensors/item_sensor.gd")
const Threats := preload("res://addons/agent_arena/sensors/threat_sensor.gd")
const Earshot := preload("res://addons/agent_arena/sensors/earshot_sensor.gd")
## Far from whatever the other suites left in the tree.
const ORIGIN := Vector3(-1000, 0, 0)
const DEMO_AGENT_PATH: String = "res://demo/demo_agent.gd"

var _tree: SceneTree = null
var _world: Node3D = null


func run(checks: Checks, _vectors: Dictionary) -> void:
	_tree = Engine.get_main_loop() as SceneTree
	await _tree.process_frame  # nodes the earlier suites queued for deletion are gone
	_world = Node3D.new()
	_world.name = "SensorWorld"
	_world.position = ORIGIN
	_tree.root.add_child(_world)
	var berry := _thing("berry-1", Vector3(1, 0, 0), &"sensor_items")
	berry.set_meta("kind", "berry")
	_thing("berry-2", Vector3(0, 0, 3), &"sensor_items")
	_thing("rock-1", Vector3(20, 0, 0), &"sensor_items")
	_items(checks)
	_threats(checks)
	_earshot(checks)
	_merged(checks)
	_defaults(checks)
	_demo_agent(checks)
	_world.queue_free()
	await _tree.process_frame


func _items(checks: Checks) -> void:
	checks.begin("sensors.items")
	var items := _item_sensor()
	var scout := _agent("Scout", Vector3.ZERO, [items])
	var seen := [
		{"id": "berry-1", "position": [-999.0, 0.0, 0.0], "distance": 1.0, "kind": "berry"},
		{"id": "berry-2", "position": [-1000.0, 0.0, 3.0], "distance": 3.0},
	]
	checks.check_equal(items.sense(scout), {"nearby_items": seen}, "items within the radius")
	checks.check_equal(items.in_reach(scout), ["berry-1"], "in reach: at most reach_distance")
	checks.check_equal(items.mask(scout), {"pick_up": {"item_id": ["berry-1"]}}, "pick_up mask")
	items.reach_distance = 4.0
	checks.check_equal(items.in_reach(scout), ["berry-1", "berry-2"], "nearest first")
	items.reach_distance = 0.5
	checks.check_equal(items.mask(scout), {"pick_up": false}, "nothing in reach: false")
	items.key = "visible"
	items.tool_name = "take"
	items.argument = "what"
	items.reach_distance = 2.0
	checks.check_equal(items.sense(scout), {"visible": seen}, "the observation key is a parameter")
	checks.check_equal(items.mask(scout), {"take": {"what": ["berry-1"]}}, "so are tool, argument")
	items.tool_name = ""
	checks.check_equal(items.mask(scout), {}, "no tool: no mask piece")
	checks.check(items._get_configuration_warnings().is_empty(), "under an agent: no warning")
	var orphan := Items.new()
	checks.check(not orphan._get_configuration_warnings().is_empty(), "outside an agent: warns")
	orphan.free()
	scout.get_parent().free()


func _threats(checks: Checks) -> void:
	checks.begin("sensors.threats")
	var threats := Threats.new()
	threats.threat_group = &"sensor_threats"
	threats.radius = 8.0
	var scout := _agent("Scout", Vector3.ZERO, [threats])
	checks.check_equal(threats.sense(scout), {}, "no threat: no threats key")
	checks.check_equal(threats.mask(scout), {"flee": false}, "no threat: flee false")
	var bear := _thing("bear-1", Vector3(0, 0, -5), &"sensor_threats")
	bear.set_meta("kind", "bear")
	var far_bear := _thing("bear-2", Vector3(0, 0, -50), &"sensor_threats")
	var seen := [
		{"id": "bear-1", "position": [-1000.0, 0.0, -5.0], "distance": 5.0, "kind": "bear"}
	]
	checks.check_equal(threats.sense(scout), {"threats": seen}, "the threat within the radius")
	checks.check_equal(threats.mask(scout), {"flee": {"threat_id": ["bear-1"]}}, "flee from it")
	bear.free()
	far_bear.free()
	checks.check_equal(threats.mask(scout), {"flee": false}, "gone: flee false again")
	scout.get_parent().free()


func _earshot(checks: Checks) -> void:
	checks.begin("sensors.earshot")
	var ears := _ears(4.0)
	var scout := _agent("Scout", Vector3.ZERO, [ears])
	checks.check(
		scout.get_character().is_in_group(&"sensor_characters"), "its character joins the group"
	)
	checks.check_equal(ears.mask(scout), {"say": false}, "alone: nobody hears a say")
	var near := _agent("Near", Vector3(3, 0, 0), [_ears(4.0)])
	var far := _agent("Far", Vector3(0, 0, 30), [_ears(4.0)])
	checks.check_equal(ears.characters_in_earshot(scout), [near.get_character()], "characters")
	checks.check_equal(ears.agents_in_earshot(scout), [near], "agents in earshot")
	checks.check(ears.in_earshot(scout, near.get_character()), "3 m: in earshot")
	checks.check(not ears.in_earshot(scout, far.get_character()), "30 m: out of earshot")
	checks.check_equal(ears.mask(scout), {}, "someone near: say possible (not named)")
	checks.check_equal(ears.sense(scout), {}, "nothing heard: no heard key")
	scout.execute({"tool": "say", "arguments": {"text": "hi"}})
	checks.check_equal(near.heard, [{"from": "Scout", "text": "hi"}], "the near agent heard it")
	checks.check(far.heard.is_empty() and scout.heard.is_empty(), "not the far one nor itself")
	checks.check_equal(
		near.get_sensor(Earshot).sense(near),
		{"heard": [{"from": "Scout", "text": "hi"}]},
		"what was heard is the sensor's piece"
	)
	near.get_parent().free()
	checks.check_equal(ears.mask(scout), {"say": false}, "alone again: say false")
	scout.hear("player", "psst")
	checks.check(ears.can_be_heard(scout), "spoken to: it can answer")
	checks.check_equal(ears.mask(scout), {}, "spoken to: say possible")
	far.get_parent().free()
	scout.get_parent().free()


func _merged(checks: Checks) -> void:
	checks.begin("sensors.agent")
	var threats := Threats.new()
	threats.threat_group = &"sensor_threats"
	var scout := _agent("Scout", Vector3.ZERO, [_item_sensor(), threats, _ears(4.0)])
	scout.goal = "forage"
	var bear := _thing("bear-1", Vector3(0, 0, -5), &"sensor_threats")
	scout.hear("player", "psst")
	checks.check_equal(scout.sensors.size(), 3, "its sensor children, in order")
	checks.check(scout.get_sensor(Threats) == threats, "get_sensor finds one by script")
	var observation := scout._collect_observation()
	checks.check_equal(
		observation.keys(),
		["inventory", "goal", "position", "velocity", "nearby_items", "threats", "heard"],
		"the agent's own keys, then each sensor's piece in child order"
	)
	checks.check_equal(observation["nearby_items"].size(), 2, "the item sensor's piece")
	checks.check_equal(observation["threats"][0]["id"], "bear-1", "the threat sensor's piece")
	checks.check_equal(observation["heard"], [{"from": "player", "text": "psst"}], "heard")
	checks.check_equal(
		scout._collect_mask(observation),
		{"pick_up": {"item_id": ["berry-1"]}, "flee": {"threat_id": ["bear-1"]}},
		"the mask: each sensor's piece (say possible: spoken to)"
	)
	bear.free()
	scout.get_parent().free()


func _defaults(checks: Checks) -> void:
	checks.begin("sensors.defaults")
	var plain := _agent("Plain", Vector3.ZERO, [])
	var names: Array = []
	for sensor in plain.sensors:
		names.append(str(sensor.name))
	checks.check_equal(names, ["Items", "Threats", "Earshot"], "no sensor child: the default three")
	var items := plain.get_sensor(Items) as Items
	var threats := plain.get_sensor(Threats) as Threats
	var ears := plain.get_sensor(Earshot) as Earshot
	checks.check_equal(
		[items.item_group, items.radius, items.reach_distance, items.key, items.tool_name],
		[&"arena_items", 15.0, 1.6, "nearby_items", "pick_up"],
		"items as before sensors"
	)
	checks.check_equal(
		[threats.threat_group, threats.radius, threats.key, threats.tool_name],
		[&"arena_threats", 15.0, "threats", "flee"],
		"threats as before"
	)
	checks.check_equal(
		[ears.character_group, ears.hearing_radius, ears.key, ears.tool_name],
		[&"arena_characters", 10.0, "heard", "say"],
		"earshot as before"
	)
	plain.get_parent().free()
	var body := Node3D.new()
	_world.add_child(body)
	var bare := Agent.new()
	bare.autostart = false
	bare.add_default_sensors = false
	body.add_child(bare)
	checks.check(bare.sensors.is_empty(), "add_default_sensors off: none")
	checks.check_equal(bare._collect_mask({}), {}, "and no mask piece")
	body.free()


func _demo_agent(checks: Checks) -> void:
	checks.begin("sensors.demo_agent")
	var script := load(DEMO_AGENT_PATH) as Script
	if not checks.check(script != null, "the demo's agent script is packed"):
		return
	var items := Items.new()
	items.item_group = &"sensor_items"
	var ada := _agent("Ada", Vector3.ZERO, [items, _ears(10.0)], script)
	ada.goal = "collect berry"
	var bo := _agent("Bo", Vector3(6, 0, 0), [_ears(10.0)], script)
	bo.agent_id = "bo"
	var observation := ada._collect_observation()
	checks.check_equal(
		observation.keys(),
		["goal", "health", "in_reach", "visible", "inventory", "position"],
		"the demo's words (configs/agents/default.yaml), in its order"
	)
	checks.check_equal(observation["in_reach"], ["berry-1"], "in_reach")
	(
		checks
		. check_equal(
			observation["visible"],
			[
				{"id": "berry-1", "kind": "berry", "position": [-999.0, 0.0, 0.0], "distance": 1.0},
				{
					"id": "berry-2",
					"kind": "thing",
					"position": [-1000.0, 0.0, 3.0],
					"distance": 3.0
				},
			],
			'visible: the items within the sensor\'s radius (15 m), kind "thing" when unknown'
		)
	)
	var mask := ada._collect_mask(observation)
	checks.check_equal(mask.get("pick_up"), {"item_id": ["berry-1"]}, "pick_up: in reach")
	checks.check_equal(
		mask.get("move_to"), {"target": [[-1000.0, 0.0, 3.0]]}, "move_to: visible, out of reach"
	)
	checks.check_equal(mask.get("wave"), {"at": ["bo"]}, "wave: the NPCs in earshot")
	checks.check(not mask.has("say"), "say: someone in earshot")
	bo.get_parent().free()
	mask = ada._collect_mask(ada._collect_observation())
	checks.check_equal(mask.get("wave"), false, "nobody in earshot: wave false")
	checks.check_equal(mask.get("say"), false, "and say false")
	ada.get_parent().free()


#region helpers
func _agent(agent_name: String, at: Vector3, sensors: Array, script: Script = Agent) -> Agent:
	var body := CharacterBody3D.new()
	body.name = agent_name
	body.position = at
	_world.add_child(body)
	var agent: Agent = script.new()
	agent.autostart = false
	for sensor: Node in sensors:
		agent.add_child(sensor)
	body.add_child(agent)
	return agent


func _item_sensor() -> Items:
	var items := Items.new()
	items.item_group = &"sensor_items"
	items.radius = 10.0
	items.reach_distance = 2.0
	return items


func _ears(radius: float) -> Earshot:
	var ears := Earshot.new()
	ears.character_group = &"sensor_characters"
	ears.hearing_radius = radius
	return ears


func _thing(thing_name: String, at: Vector3, group: StringName) -> Node3D:
	var thing := Node3D.new()
	thing.name = thing_name
	thing.position = at
	thing.add_to_group(group)
	_world.add_child(thing)
	return thing
#endregion
