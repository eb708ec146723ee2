## Desktop transport: a plain TCP connection (StreamPeerTCP) to the ZeroMQ server.
##
## Deliberately thin: it moves bytes between the socket and zmtp.gd. Host names are resolved
## with the engine's background resolver (IP.resolve_hostname_queue_item), never on the main
## thread. The socket part is what the automated tests (which run the web build of Godot, where
## browsers have no raw TCP) cannot execute.
extends "res://addons/agent_arena/transport.gd"

var _peer: StreamPeerTCP = null
var _pending: PackedByteArray = PackedByteArray()
var _url: String = ""
var _port: int = -1
var _resolve_id: int = IP.RESOLVER_INVALID_ID
var _failed: bool = false


func open(url: String) -> Error:
	close()
	var parts := parse_url(url)
	if parts[2] < 0:
		last_error = "tcp endpoint needs a port: %s" % url
		return ERR_INVALID_PARAMETER
	_url = url
	_port = parts[2]
	_failed = false
	last_error = ""
	var host: String = parts[1]
	if host.is_valid_ip_address():
		return _connect(host)
	# StreamPeerTCP.connect_to_host would resolve the name synchronously (freezing the frame).
	_resolve_id = IP.resolve_hostname_queue_item(host, IP.TYPE_ANY)
	if _resolve_id == IP.RESOLVER_INVALID_ID:
		last_error = "cannot resolve %s: the resolver queue is full" % host
		return ERR_CANT_RESOLVE
	return OK


## True while the host name is being resolved in the background.
func is_resolving() -> bool:
	return _resolve_id != IP.RESOLVER_INVALID_ID


func poll() -> void:
	if is_resolving():
		_poll_resolver()
	if _peer == null:
		return
	_peer.poll()
	if _peer.get_status() == StreamPeerTCP.STATUS_CONNECTED:
		_peer.set_no_delay(true)
		_flush()


func get_status() -> Status:
	if _failed:
		return Status.FAILED
	if is_resolving():
		return Status.CONNECTING
	if _peer == null:
		return Status.CLOSED
	match _peer.get_status():
		StreamPeerTCP.STATUS_CONNECTING:
			return Status.CONNECTING
		StreamPeerTCP.STATUS_CONNECTED:
			return Status.OPEN
		StreamPeerTCP.STATUS_ERROR:
			if last_error.is_empty():
				last_error = "connection refused or reset"
			return Status.FAILED
	return Status.CLOSED


func read() -> PackedByteArray:
	if _peer == null or _peer.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return PackedByteArray()
	var available := _peer.get_available_bytes()
	if available <= 0:
		return PackedByteArray()
	var got: Array = _peer.get_partial_data(available)
	if got[0] != OK:
		last_error = "read failed: %s" % error_string(got[0])
		return PackedByteArray()
	return got[1]


func write(data: PackedByteArray) -> Error:
	if _peer == null and not is_resolving():
		return ERR_UNCONFIGURED
	_pending.append_array(data)
	if _peer != null:
		_flush()
	return OK


func close() -> void:
	if is_resolving():
		IP.erase_resolve_item(_resolve_id)
		_resolve_id = IP.RESOLVER_INVALID_ID
	if _peer != null:
		_peer.disconnect_from_host()
	_peer = null
	_pending = PackedByteArray()


func _poll_resolver() -> void:
	var status := IP.get_resolve_item_status(_resolve_id)
	if status == IP.RESOLVER_STATUS_WAITING:
		return
	var address := ""
	if status == IP.RESOLVER_STATUS_DONE:
		address = IP.get_resolve_item_address(_resolve_id)
	IP.erase_resolve_item(_resolve_id)
	_resolve_id = IP.RESOLVER_INVALID_ID
	if address.is_empty():
		_failed = true
		last_error = "cannot resolve the host of %s" % _url
		return
	if _connect(address) != OK:
		_failed = true


func _connect(address: String) -> Error:
	_peer = StreamPeerTCP.new()
	var err := _peer.connect_to_host(address, _port)
	if err != OK:
		last_error = "cannot connect to %s (%s): %s" % [_url, address, error_string(err)]
	return err


func _flush() -> void:
	if _pending.is_empty() or _peer.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return
	var sent: Array = _peer.put_partial_data(_pending)
	if sent[0] == OK:
		_pending = _pending.slice(sent[1])
	else:
		last_error = "write failed: %s" % error_string(sent[0])
