## Runs every unit suite against res://vectors.json and quits with 0 (all passed) or 1.
extends Node

const Checks := preload("res://checks.gd")
const SUITES: Array[Script] = [
	preload("res://test_msgpack.gd"),
	preload("res://test_zmtp.gd"),
	preload("res://test_transport.gd"),
	preload("res://test_client.gd"),
	preload("res://test_agent.gd"),
	preload("res://test_masks.gd"),
	preload("res://test_sensors.gd"),
	preload("res://test_fuzz.gd"),
]


func _ready() -> void:
	# Deferred: the agent suite adds nodes to the root, which is busy while scenes are set up.
	_run_all.call_deferred()


func _run_all() -> void:
	var started := Time.get_ticks_msec()
	var text := FileAccess.get_file_as_string("res://vectors.json")
	var vectors: Variant = JSON.parse_string(text)
	var checks := Checks.new()
	if typeof(vectors) != TYPE_DICTIONARY:
		checks.begin("setup")
		checks.check(false, "res://vectors.json is missing or not a JSON object")
	else:
		for suite_script in SUITES:
			var suite: Object = suite_script.new()
			# Suites that wait for engine frames are coroutines; the others return at once.
			await suite.call("run", checks, vectors)
	print(
		(
			"RESULT passed=%d failed=%d ms=%d"
			% [checks.passed, checks.failed, Time.get_ticks_msec() - started]
		)
	)
	get_tree().quit(0 if checks.failed == 0 else 1)
