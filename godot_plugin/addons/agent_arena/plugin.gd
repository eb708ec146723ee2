## Editor plugin: registers the AgentArena autoload, the ArenaAgent node type and the
## custom-agent script template.
@tool
extends EditorPlugin

const AUTOLOAD_NAME: String = "AgentArena"
const CLIENT_PATH: String = "res://addons/agent_arena/client.gd"
const AGENT_SCRIPT: Script = preload("res://addons/agent_arena/arena_agent.gd")
const TEMPLATE_DIR: String = "res://addons/agent_arena/script_templates/"
const TEMPLATE_SOURCE: String = TEMPLATE_DIR + "ArenaAgent/custom_agent.gd"
const TEMPLATE_TARGET: String = "res://script_templates/ArenaAgent/custom_agent.gd"

var _registered_type: bool = false


func _enter_tree() -> void:
	# ArenaAgent is also a global class (class_name); register it explicitly only when the
	# global class list has not picked it up yet, so the Create Node dialog shows it once.
	if not _has_global_class("ArenaAgent"):
		add_custom_type("ArenaAgent", "Node", AGENT_SCRIPT, null)
		_registered_type = true


func _exit_tree() -> void:
	if _registered_type:
		remove_custom_type("ArenaAgent")
		_registered_type = false


func _enable_plugin() -> void:
	add_autoload_singleton(AUTOLOAD_NAME, CLIENT_PATH)
	_install_template()


func _disable_plugin() -> void:
	remove_autoload_singleton(AUTOLOAD_NAME)


func _install_template() -> void:
	if FileAccess.file_exists(TEMPLATE_TARGET):
		return
	var source := FileAccess.get_file_as_string(TEMPLATE_SOURCE)
	if source.is_empty():
		return
	DirAccess.make_dir_recursive_absolute(TEMPLATE_TARGET.get_base_dir())
	var file := FileAccess.open(TEMPLATE_TARGET, FileAccess.WRITE)
	if file != null:
		file.store_string(source)


static func _has_global_class(class_id: String) -> bool:
	for entry: Dictionary in ProjectSettings.get_global_class_list():
		if entry.get("class", "") == class_id:
			return true
	return false
