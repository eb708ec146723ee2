## In-memory transport for unit tests: the test plays the server by filling [member inbox].
extends "res://addons/agent_arena/transport.gd"

var status: Status = Status.CLOSED
var inbox: PackedByteArray = PackedByteArray()
var written: PackedByteArray = PackedByteArray()
var opened: int = 0
var url: String = ""


func open(target: String) -> Error:
	url = target
	opened += 1
	status = Status.OPEN
	written = PackedByteArray()
	inbox = PackedByteArray()
	return OK


func get_status() -> Status:
	return status


func read() -> PackedByteArray:
	var out := inbox
	inbox = PackedByteArray()
	return out


func write(data: PackedByteArray) -> Error:
	written.append_array(data)
	return OK


func close() -> void:
	status = Status.CLOSED
